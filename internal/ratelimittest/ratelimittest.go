// Package ratelimittest is the test suite every globalchat.RateLimiter
// implementation passes: the in-memory one and the Redis one run the same
// tests, on a clock the suite moves.
package ratelimittest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/globalchat/globalchat"
)

// Factory returns a fresh limiter of perMinute messages per user in any
// sliding minute, reading the time from clock.
type Factory func(t testing.TB, perMinute int, clock func() time.Time) globalchat.RateLimiter

// Clock is a clock tests move by hand.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock at a fixed instant.
func NewClock() *Clock { return &Clock{now: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Run runs the suite.
func Run(t *testing.T, newLimiter Factory) {
	t.Run("LimitAndExactRetryAfter", func(t *testing.T) { testLimit(t, newLimiter) })
	t.Run("NoFixedWindowBurst", func(t *testing.T) { testSliding(t, newLimiter) })
	t.Run("UsersIndependent", func(t *testing.T) { testUsers(t, newLimiter) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, newLimiter) })
}

// WindowFactory returns a limiter of perMinute messages in any window.
type WindowFactory func(t testing.TB, perMinute int, window time.Duration, clock func() time.Time) globalchat.RateLimiter

// RunWindow checks a limiter whose window is not a minute (the setting
// that lets tests see a limit clear in seconds): the limit holds over the
// window, RetryAfter counts to its end, and a send leaves it then.
func RunWindow(t *testing.T, newLimiter WindowFactory) {
	clock := NewClock()
	l := newLimiter(t, 2, 5*time.Second, clock.Now)
	wantAllowed(t, l, "u1", 1)
	clock.Advance(time.Second)
	wantAllowed(t, l, "u1", 0)
	wantRefused(t, l, "u1", 4*time.Second)
	clock.Advance(4 * time.Second)
	wantAllowed(t, l, "u1", 0)
	wantRefused(t, l, "u1", time.Second)
	if d := allow(t, l, "u2"); d.Window != 5*time.Second {
		t.Fatalf("Allow(u2) = %+v, want the window (5s) in the decision: refusals name it", d)
	}
}

func allow(t testing.TB, l globalchat.RateLimiter, user string) globalchat.Decision {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d, err := l.Allow(ctx, user)
	if err != nil {
		t.Fatalf("Allow(%s): %v", user, err)
	}
	return d
}

func wantAllowed(t testing.TB, l globalchat.RateLimiter, user string, remaining int) {
	t.Helper()
	if d := allow(t, l, user); !d.Allowed || d.Remaining != remaining {
		t.Fatalf("Allow(%s) = %+v, want allowed with %d remaining", user, d, remaining)
	}
}

func wantRefused(t testing.TB, l globalchat.RateLimiter, user string, retry time.Duration) {
	t.Helper()
	if d := allow(t, l, user); d.Allowed || d.RetryAfter != retry {
		t.Fatalf("Allow(%s) = %+v, want refused with RetryAfter %v", user, d, retry)
	}
}

func testLimit(t *testing.T, newLimiter Factory) {
	clock := NewClock()
	l := newLimiter(t, 20, clock.Now)
	for i := range 20 {
		wantAllowed(t, l, "u1", 19-i)
		clock.Advance(100 * time.Millisecond)
	}
	// The first was sent 2 s ago: it leaves the window in 58 s.
	wantRefused(t, l, "u1", 58*time.Second)
	clock.Advance(57*time.Second + 999*time.Millisecond)
	wantRefused(t, l, "u1", time.Millisecond) // refusals are not counted
	clock.Advance(time.Millisecond)
	wantAllowed(t, l, "u1", 0)
	wantRefused(t, l, "u1", 100*time.Millisecond)
	if d := allow(t, l, "u2"); d.Window != time.Minute {
		t.Fatalf("Allow(u2) = %+v, want the window (a minute) in the decision", d)
	}
}

// testSliding sends half the limit, then the other half 30 s later: a
// fixed window starting at the first half would let a full limit through
// at 60 s; the sliding window lets only the first half's worth through.
func testSliding(t *testing.T, newLimiter Factory) {
	clock := NewClock()
	l := newLimiter(t, 20, clock.Now)
	for i := range 10 {
		wantAllowed(t, l, "u1", 19-i)
	}
	clock.Advance(30 * time.Second)
	for i := range 10 {
		wantAllowed(t, l, "u1", 9-i)
	}
	wantRefused(t, l, "u1", 30*time.Second)
	clock.Advance(30 * time.Second)
	for i := range 10 {
		wantAllowed(t, l, "u1", 9-i)
	}
	wantRefused(t, l, "u1", 30*time.Second)
}

func testUsers(t *testing.T, newLimiter Factory) {
	clock := NewClock()
	l := newLimiter(t, 3, clock.Now)
	for i := range 3 {
		wantAllowed(t, l, "u1", 2-i)
	}
	wantRefused(t, l, "u1", time.Minute)
	wantAllowed(t, l, "u2", 2)
	clock.Advance(time.Minute)
	wantAllowed(t, l, "u1", 2)
}

func testConcurrent(t *testing.T, newLimiter Factory) {
	clock := NewClock()
	l := newLimiter(t, 20, clock.Now)
	var allowed atomic.Int32
	var wg sync.WaitGroup
	for range 60 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			d, err := l.Allow(ctx, "u1")
			if err != nil {
				t.Errorf("Allow: %v", err)
			}
			if d.Allowed {
				allowed.Add(1)
			} else if d.RetryAfter != time.Minute {
				t.Errorf("refused with RetryAfter %v, want 1m", d.RetryAfter)
			}
		})
	}
	wg.Wait()
	if allowed.Load() != 20 {
		t.Fatalf("%d allowed, want exactly 20", allowed.Load())
	}
}
