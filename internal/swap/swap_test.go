package swap

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/globalchat/globalchat"
	"github.com/globalchat/globalchat/inmem"
	"github.com/globalchat/globalchat/socketio"
)

// The forwarders answer from what is current, and Swap hands back what
// was.
func TestSwapForwardsToTheCurrent(t *testing.T) {
	ctx := context.Background()
	first, second := inmem.NewPresence(), inmem.NewPresence()
	p := NewPresence(first)
	p.Add(ctx, globalchat.Conn{SocketID: "a", User: globalchat.User{ID: "u1"}})
	if prev := p.Swap(second); prev != first {
		t.Fatal("Swap did not return the previous presence")
	}
	if n, _, _ := p.Online(ctx, 10); n != 0 {
		t.Fatalf("%d online after the swap, want the new presence's 0", n)
	}
	if n, _, _ := first.Online(ctx, 10); n != 1 {
		t.Fatal("the old presence lost its user")
	}

	l := NewRateLimiter(inmem.NewRateLimiter(1, nil))
	l.Allow(ctx, "u")
	if d, _ := l.Allow(ctx, "u"); d.Allowed {
		t.Fatal("the limiter forwarded to does not limit")
	}
	l.Swap(inmem.NewRateLimiter(1, nil))
	if d, _ := l.Allow(ctx, "u"); !d.Allowed {
		t.Fatal("still the old limiter after the swap")
	}

	s := NewSessions(socketio.NewMemorySessions())
	s.Save(ctx, socketio.SessionState{PID: "p"}, time.Minute)
	s.Swap(socketio.NewMemorySessions())
	if _, err := s.Take(ctx, "p"); !errors.Is(err, socketio.ErrSessionNotFound) {
		t.Fatalf("a session of the old store found in the new: %v", err)
	}
}

// startAdapter records Start.
type startAdapter struct {
	socketio.LocalAdapter
	started bool
	err     error
}

func (a *startAdapter) Start(context.Context, func(socketio.Broadcast)) error {
	a.started = true
	return a.err
}

// The next adapter starts with the delivery function before it is
// current; one that cannot start leaves the current one in place.
func TestAdapterSwapStartsTheNext(t *testing.T) {
	ctx := context.Background()
	first := &startAdapter{}
	a := NewAdapter(first)
	if err := a.Start(ctx, func(socketio.Broadcast) {}); err != nil || !first.started {
		t.Fatalf("start: %v, started %v", err, first.started)
	}
	broken := &startAdapter{err: errors.New("no redis")}
	if _, err := a.Swap(ctx, broken); err == nil {
		t.Fatal("an adapter that cannot start was swapped in")
	}
	next := &startAdapter{}
	prev, err := a.Swap(ctx, next)
	if err != nil || prev != first || !next.started {
		t.Fatalf("swap: %v, previous %v, started %v", err, prev, next.started)
	}
}
