package chat

import (
	"sync"
	"time"

	"github.com/globalchat/globalchat"
)

// maxPresenceList caps the joined and left lists of a presence:update.
const maxPresenceList = 50

// announcer announces presence to the room (user:joined, user:left,
// presence:update) without letting a storm of
// connections cost N events to each of N clients: while joins and leaves
// stay at or under threshold per interval each is sent as user:joined or
// user:left; above it they are gathered and sent as one presence:update
// per interval.
type announcer struct {
	send      func(event string, payload any) // to the whole room
	threshold int
	interval  time.Duration
	now       func() time.Time

	mu          sync.Mutex
	windowEnd   time.Time
	inWindow    int
	coalescing  bool
	joinedUsers []globalchat.User
	leftUsers   []globalchat.User
	count       int
	timer       *time.Timer
	closed      bool
}

// presenceUpdate is the payload of presence:update.
type presenceUpdate struct {
	OnlineCount int               `json:"onlineCount"`
	Joined      []globalchat.User `json:"joined"`
	Left        []globalchat.User `json:"left"`
}

// newAnnouncer returns an announcer; now is the clock of its windows
// (the timer that sends a presence:update runs on real time).
func newAnnouncer(send func(string, any), threshold int, interval time.Duration, now func() time.Time) *announcer {
	if threshold <= 0 {
		threshold = 20
	}
	if interval <= 0 {
		interval = time.Second
	}
	return &announcer{send: send, threshold: threshold, interval: interval, now: now}
}

func (f *announcer) joined(u globalchat.User, count int) { f.event(u, count, true) }
func (f *announcer) left(u globalchat.User, count int)   { f.event(u, count, false) }

func (f *announcer) event(u globalchat.User, count int, joined bool) {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	now := f.now()
	if now.After(f.windowEnd) {
		f.windowEnd, f.inWindow = now.Add(f.interval), 0
	}
	f.inWindow++
	if f.inWindow > f.threshold || f.coalescing {
		f.gatherLocked(u, count, joined)
		f.mu.Unlock()
		return
	}
	f.mu.Unlock()
	name := EventUserLeft
	if joined {
		name = EventUserJoined
	}
	f.send(name, presencePayload{UserID: u.ID, Username: u.Name, OnlineCount: count})
}

// gatherLocked adds an event to the next presence:update, starting the
// interval timer that sends it.
func (f *announcer) gatherLocked(u globalchat.User, count int, joined bool) {
	list := &f.leftUsers
	if joined {
		list = &f.joinedUsers
	}
	if len(*list) < maxPresenceList {
		*list = append(*list, u)
	}
	f.count = count
	if !f.coalescing && !f.closed {
		f.coalescing = true
		f.timer = time.AfterFunc(f.interval, f.flush)
	}
}

// flush sends the gathered update; coalescing goes on while events keep
// coming faster than the threshold.
func (f *announcer) flush() {
	f.mu.Lock()
	up := presenceUpdate{OnlineCount: f.count, Joined: f.joinedUsers, Left: f.leftUsers}
	busy := len(f.joinedUsers)+len(f.leftUsers) > 0
	f.joinedUsers, f.leftUsers = nil, nil
	if up.Joined == nil {
		up.Joined = []globalchat.User{}
	}
	if up.Left == nil {
		up.Left = []globalchat.User{}
	}
	if busy && !f.closed {
		f.timer.Reset(f.interval)
	} else {
		f.coalescing = false
	}
	f.mu.Unlock()
	if busy {
		f.send(EventPresenceUpdate, up)
	}
}

func (f *announcer) close() {
	f.mu.Lock()
	f.closed = true
	if f.timer != nil {
		f.timer.Stop()
	}
	f.mu.Unlock()
}
