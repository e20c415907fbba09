package inmem

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/globalchat/globalchat"
	"github.com/globalchat/globalchat/internal/bustest"
	"github.com/globalchat/globalchat/internal/presencetest"
	"github.com/globalchat/globalchat/internal/ratelimittest"
	"github.com/globalchat/globalchat/internal/typingtest"
)

func TestBus(t *testing.T) {
	bustest.Run(t, func(t testing.TB, recent int) []globalchat.Bus {
		b := NewBus(BusOptions{Capacity: recent})
		t.Cleanup(func() { b.Close() })
		return []globalchat.Bus{b}
	})
}

func TestPresence(t *testing.T) {
	presencetest.Run(t, func(t testing.TB) []globalchat.Presence {
		return []globalchat.Presence{NewPresence()}
	})
}

func TestTyping(t *testing.T) {
	typingtest.Run(t, func(t testing.TB) []globalchat.Typing {
		return []globalchat.Typing{NewTyping()}
	})
}

func TestRateLimiter(t *testing.T) {
	ratelimittest.Run(t, func(t testing.TB, perMinute int, clock func() time.Time) globalchat.RateLimiter {
		return NewRateLimiter(perMinute, clock)
	})
}

func TestRateLimiterWindow(t *testing.T) {
	ratelimittest.RunWindow(t, func(t testing.TB, perMinute int, window time.Duration, clock func() time.Time) globalchat.RateLimiter {
		return NewRateLimiter(perMinute, clock).WithWindow(window)
	})
}

func TestRateLimiterEvictsIdleUsers(t *testing.T) {
	clock := ratelimittest.NewClock()
	l := NewRateLimiter(5, clock.Now)
	for i := range 100 {
		if _, err := l.Allow(context.Background(), fmt.Sprint("u", i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := l.tracked(); n != 100 {
		t.Fatalf("tracking %d users, want 100", n)
	}
	clock.Advance(Window)
	if _, err := l.Allow(context.Background(), "u-new"); err != nil {
		t.Fatal(err)
	}
	if n := l.tracked(); n != 1 {
		t.Fatalf("tracking %d users after a idle minute, want 1", n)
	}
}

func TestBusDedupeBounded(t *testing.T) {
	clock := ratelimittest.NewClock()
	b := NewBus(BusOptions{Capacity: 10, DedupeTTL: time.Minute, DedupeMax: 50, Clock: clock.Now})
	ctx := context.Background()
	for i := range 200 {
		m := globalchat.Message{UserID: "u1", ClientMsgID: fmt.Sprint("c", i)}
		if _, _, err := b.Publish(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if n := b.dedupe.len(); n != 50 {
		t.Fatalf("dedupe holds %d entries, want the cap 50", n)
	}
	clock.Advance(time.Minute)
	if _, dup, _ := b.Publish(ctx, globalchat.Message{UserID: "u1", ClientMsgID: "c199"}); dup {
		t.Fatal("client message id still known after its TTL")
	}
	if n := b.dedupe.len(); n != 1 {
		t.Fatalf("dedupe holds %d entries after expiry, want 1", n)
	}
}

// TestBusSlowHandlerDoesNotBlockPublish shows that Publish never waits for
// the handler, and that a handler that falls behind by more than the ring
// skips what was evicted but keeps the order.
func TestBusSlowHandlerDoesNotBlockPublish(t *testing.T) {
	b := NewBus(BusOptions{Capacity: 10})
	defer b.Close()
	release, blocked := make(chan struct{}), make(chan struct{})
	rec := &bustest.Recorder{}
	b.Subscribe(-1, func(m globalchat.Message) {
		if m.Seq == 1 {
			close(blocked)
			<-release
		}
		rec.Handle(m)
	})
	ctx := context.Background()
	if _, _, err := b.Publish(ctx, globalchat.Message{UserID: "u1"}); err != nil {
		t.Fatal(err)
	}
	<-blocked
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 99 {
			if _, _, err := b.Publish(ctx, globalchat.Message{UserID: "u1"}); err != nil {
				t.Error(err)
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Publish blocked on a stuck handler")
	}
	close(release)
	got := rec.WaitN(t, 11, 5*time.Second)
	if got[0].Seq != 1 || got[1].Seq != 91 || got[10].Seq != 100 {
		t.Fatalf("delivered seqs %d, %d..%d; want 1, then 91..100", got[0].Seq, got[1].Seq, got[10].Seq)
	}
}

func TestBusClosed(t *testing.T) {
	b := NewBus(BusOptions{})
	b.Close()
	if _, _, err := b.Publish(context.Background(), globalchat.Message{}); err == nil {
		t.Fatal("Publish on a closed bus succeeded")
	}
}
