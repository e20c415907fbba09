package chat

import (
	"sort"
	"sync"
	"time"

	"github.com/globalchat/globalchat"
	"github.com/globalchat/globalchat/socketio"
)

// EventTyping is sent by a client while its user types (throttled by the
// client), and by the server to the room with who is typing.
const EventTyping = "chat:typing"

const (
	// typingTTL is how long a user counts as typing after their last
	// chat:typing; the web client sends one every 2 s while typing.
	typingTTL = 3 * time.Second
	// typingMinGap is the per-user bound: closer chat:typing are dropped,
	// so a client that sends one per keystroke costs nothing more.
	typingMinGap = time.Second
	// typingInterval: each instance sends the room its list of who is
	// typing at most this often, never per keystroke.
	typingInterval = time.Second
	// maxTypingListed bounds the list; count says how many in all.
	maxTypingListed = 10
)

// typingPayload is the server's chat:typing: the users typing on the
// sending instance (clients merge the lists of every instance, each
// user shown until about 2.5 s after it was last listed).
type typingPayload struct {
	Users []globalchat.User `json:"users"`
	Count int               `json:"count"`
}

type typer struct {
	user  globalchat.User
	last  time.Time
	until time.Time
}

// typingState is who is typing on this instance, flushed to the room once
// an interval while anyone is.
type typingState struct {
	mu     sync.Mutex
	users  map[string]*typer // by user id; bounded by the connected users, expired at each flush
	armed  bool              // a flush is scheduled
	closed bool
}

// onTyping records that the socket's user is typing; the payload is ignored.
func (s *Service) onTyping(sock *socketio.Socket, _ *socketio.Event) {
	u := sock.Data.(*member).User
	now := s.cfg.Now()
	t := &s.typing
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	if t.users == nil {
		t.users = map[string]*typer{}
	}
	if cur := t.users[u.ID]; cur != nil && now.Sub(cur.last) < typingMinGap {
		return
	}
	t.users[u.ID] = &typer{user: u, last: now, until: now.Add(typingTTL)}
	if !t.armed {
		t.armed = true
		time.AfterFunc(typingInterval, s.flushTyping)
	}
}

// stoppedTyping forgets a user whose message was just accepted.
func (s *Service) stoppedTyping(userID string) {
	s.typing.mu.Lock()
	delete(s.typing.users, userID)
	s.typing.mu.Unlock()
}

// flushTyping sends the room who is typing here, and schedules the next
// flush while anyone still is.
func (s *Service) flushTyping() {
	now := s.cfg.Now()
	t := &s.typing
	t.mu.Lock()
	var list []globalchat.User
	for id, ty := range t.users {
		if now.After(ty.until) {
			delete(t.users, id)
			continue
		}
		list = append(list, ty.user)
	}
	t.armed = len(t.users) > 0 && !t.closed
	if t.armed {
		time.AfterFunc(typingInterval, s.flushTyping)
	}
	closed := t.closed
	t.mu.Unlock()
	if len(list) == 0 || closed {
		return
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	p := typingPayload{Users: list, Count: len(list)}
	if len(p.Users) > maxTypingListed {
		p.Users = p.Users[:maxTypingListed]
	}
	s.broadcast(EventTyping, p)
}

// closeTyping stops the flushes (at shutdown).
func (s *Service) closeTyping() {
	s.typing.mu.Lock()
	s.typing.closed = true
	s.typing.mu.Unlock()
}
