package chat

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/globalchat/globalchat"
	"github.com/globalchat/globalchat/internal/ratelimittest"
	"github.com/globalchat/globalchat/internal/testwait"
)

type recorder struct {
	mu     sync.Mutex
	events []string
	last   presenceUpdate
	listed int
}

func (r *recorder) send(event string, payload any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, event)
	if up, ok := payload.(presenceUpdate); ok {
		r.last = up
		r.listed += len(up.Joined) + len(up.Left)
	}
}

func (r *recorder) count(event string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e == event {
			n++
		}
	}
	return n
}

func TestAnnouncerSendsEachEventUnderThreshold(t *testing.T) {
	r := &recorder{}
	f := newAnnouncer(r.send, 5, time.Hour, time.Now)
	defer f.close()
	for i := range 3 {
		f.joined(globalchat.User{ID: fmt.Sprint(i)}, i+1)
	}
	f.left(globalchat.User{ID: "0"}, 2)
	if r.count(EventUserJoined) != 3 || r.count(EventUserLeft) != 1 || r.count(EventPresenceUpdate) != 0 {
		t.Fatalf("events %v", r.events)
	}
}

// A storm of 1,000 joins costs each client at most threshold individual
// events plus one presence:update per interval, not 1,000 events.
func TestAnnouncerCoalescesAStorm(t *testing.T) {
	r := &recorder{}
	clock := ratelimittest.NewClock() // the storm takes no time, however slow the machine
	f := newAnnouncer(r.send, 10, 50*time.Millisecond, clock.Now)
	defer f.close()
	for i := range 1000 {
		f.joined(globalchat.User{ID: fmt.Sprint(i), Name: fmt.Sprint("u", i)}, i+1)
	}
	testwait.For(t, "the presence:update", func() bool { return r.count(EventPresenceUpdate) > 0 })
	if got := r.count(EventUserJoined); got != 10 {
		t.Fatalf("individual joins = %d, want the threshold 10", got)
	}
	if got := r.count(EventPresenceUpdate); got != 1 {
		t.Fatalf("presence updates = %d, want 1", got)
	}
	if r.last.OnlineCount != 1000 || len(r.last.Joined) != maxPresenceList {
		t.Fatalf("update: count %d, %d joined listed", r.last.OnlineCount, len(r.last.Joined))
	}
	// Quiet again (an interval without events ends the coalescing, and
	// the window is over): the next join is sent on its own.
	testwait.For(t, "the coalescing to end", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return !f.coalescing
	})
	clock.Advance(time.Second)
	f.joined(globalchat.User{ID: "late"}, 1001)
	if got := r.count(EventUserJoined); got != 11 {
		t.Fatalf("after the storm: %d individual joins, want 11", got)
	}
}
