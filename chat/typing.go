package chat

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/globalchat/globalchat"
	"github.com/globalchat/globalchat/socketio"
)

// EventTyping is sent by a client while its user types (throttled by the
// client), and by the server with who is typing.
const EventTyping = "chat:typing"

const (
	// typingTTL is how long a user counts as typing after their last
	// chat:typing; the web client sends one every 2 s while typing.
	typingTTL = 3 * time.Second
	// typingMinGap is the per-user bound: closer chat:typing are dropped,
	// so a client that sends one per keystroke costs nothing more.
	typingMinGap = time.Second
	// typingInterval: each instance reads the cluster-wide list this
	// often and, while anyone types, sends it to its own sockets: every
	// client gets one list an interval, never an event per keystroke.
	typingInterval = time.Second
	// typingTimeout bounds one call to Config.Typing: the indicator is
	// not worth waiting for.
	typingTimeout = time.Second
	// maxTypingListed bounds the list; count says how many in all.
	maxTypingListed = 10
)

// typingPayload is the server's chat:typing: who is typing, on every
// instance (one list, the same everywhere).
type typingPayload struct {
	Users []globalchat.User `json:"users"`
	Count int               `json:"count"`
}

// typingState is when this instance last recorded each user typing: the
// per-user bound, and whether an accepted message must clear the user
// (so that a message from someone not typing costs no round trip).
type typingState struct {
	mu   sync.Mutex
	last map[string]time.Time // by user id; pruned each interval
}

// onTyping records that the socket's user is typing; the payload is ignored.
func (s *Service) onTyping(sock *socketio.Socket, _ *socketio.Event) {
	if s.cfg.Typing == nil {
		return
	}
	u := sock.Data.(*member).User
	now := s.cfg.Now()
	t := &s.typing
	t.mu.Lock()
	last, seen := t.last[u.ID]
	if seen && now.Sub(last) < typingMinGap {
		t.mu.Unlock()
		return
	}
	t.last[u.ID] = now
	t.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), typingTimeout)
	defer cancel()
	if err := s.cfg.Typing.Set(ctx, u, now.Add(typingTTL)); err != nil {
		s.typingFailed(ctx, err)
	}
}

// stoppedTyping forgets a user whose message was just accepted, if this
// instance recorded them typing.
func (s *Service) stoppedTyping(u globalchat.User) {
	t := &s.typing
	t.mu.Lock()
	_, seen := t.last[u.ID]
	delete(t.last, u.ID)
	t.mu.Unlock()
	if !seen || s.cfg.Typing == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), typingTimeout)
	defer cancel()
	if err := s.cfg.Typing.Clear(ctx, u); err != nil {
		s.typingFailed(ctx, err)
	}
}

// watchTyping sends this instance's sockets the cluster-wide list once an
// interval while anyone types; it returns the function that stops it.
func (s *Service) watchTyping() func() {
	if s.cfg.Typing == nil {
		return func() {}
	}
	s.typing.last = map[string]time.Time{}
	return every(typingInterval, s.flushTyping)
}

// flushTyping reads who is typing and sends it to this instance's sockets.
func (s *Service) flushTyping(ctx context.Context) {
	now := s.cfg.Now()
	s.pruneTyping(now)
	ctx, cancel := context.WithTimeout(ctx, typingTimeout)
	defer cancel()
	users, n, err := s.cfg.Typing.List(ctx, now, maxTypingListed)
	if err != nil {
		s.typingFailed(ctx, err)
		return
	}
	if n == 0 {
		return
	}
	p := typingPayload{Users: users, Count: n}
	if err := s.nsp.To(globalchat.Room).Local().Emit(EventTyping, p); err != nil {
		s.log.Warn("chat: typing", "err", err)
	}
}

// pruneTyping forgets the users this instance saw type more than
// typingTTL ago: their entries are gone from Config.Typing too.
func (s *Service) pruneTyping(now time.Time) {
	t := &s.typing
	t.mu.Lock()
	for id, last := range t.last {
		if now.Sub(last) >= typingTTL {
			delete(t.last, id)
		}
	}
	t.mu.Unlock()
}

// typingFailed logs a failed call to Config.Typing, sampled: with Redis
// away the indicator pauses, and nothing else is affected.
func (s *Service) typingFailed(ctx context.Context, err error) {
	s.cfg.Sampler.Log(ctx, slog.LevelWarn, "typing", "typing", "chat: typing indicator paused",
		slog.String("err", err.Error()))
}
