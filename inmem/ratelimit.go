package inmem

import (
	"context"
	"sync"
	"time"

	"github.com/globalchat/globalchat"
)

var _ globalchat.RateLimiter = (*RateLimiter)(nil)

// Window is the default span of a rate limit: perMinute messages in any
// Window (WithWindow changes it, for tests that wait for a limit to clear).
const Window = time.Minute

// DefaultPerMinute is the reference design's limit.
const DefaultPerMinute = 20

// RateLimiter allows each user at most perMinute messages in any sliding
// window of one minute.
//
// Why a sliding-window log: a fixed window lets 2×perMinute through around
// a window boundary, and GCRA (or a token bucket) lets perMinute plus the
// refill through within a minute. The log of the last perMinute accepted
// times is exact: the next message is allowed when the oldest of them is a
// minute old, which is also the exact RetryAfter. It costs perMinute
// timestamps per active user, and users idle for a minute are evicted.
type RateLimiter struct {
	limit  int
	window time.Duration
	clock  func() time.Time

	mu        sync.Mutex
	users     map[string]*sendLog
	lastSweep time.Time
}

// sendLog is a ring of the accepted send times of one user, oldest first.
type sendLog struct {
	times []time.Time
	start int
	n     int
}

// NewRateLimiter returns a RateLimiter of perMinute messages per user
// (perMinute <= 0 takes DefaultPerMinute). clock nil means time.Now.
func NewRateLimiter(perMinute int, clock func() time.Time) *RateLimiter {
	if perMinute <= 0 {
		perMinute = DefaultPerMinute
	}
	if clock == nil {
		clock = time.Now
	}
	return &RateLimiter{limit: perMinute, window: Window, clock: clock, users: make(map[string]*sendLog)}
}

// WithWindow sets the span of the limit (d <= 0 keeps it), before first use.
func (r *RateLimiter) WithWindow(d time.Duration) *RateLimiter {
	if d > 0 {
		r.window = d
	}
	return r
}

// Allow implements globalchat.RateLimiter. A refused attempt is not
// counted.
func (r *RateLimiter) Allow(ctx context.Context, userID string) (globalchat.Decision, error) {
	if err := ctx.Err(); err != nil {
		return globalchat.Decision{}, err
	}
	now := r.clock()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sweep(now)
	l := r.users[userID]
	if l == nil {
		l = &sendLog{times: make([]time.Time, r.limit)}
		r.users[userID] = l
	}
	l.expire(now, r.window)
	if l.n == r.limit {
		wait := l.times[l.start].Add(r.window).Sub(now)
		return globalchat.Decision{Limit: r.limit, Window: r.window, RetryAfter: min(max(wait, 0), r.window)}, nil
	}
	l.times[(l.start+l.n)%len(l.times)] = now
	l.n++
	return globalchat.Decision{Allowed: true, Limit: r.limit, Window: r.window, Remaining: r.limit - l.n}, nil
}

// expire forgets the sends that left the window: a send at t counts while
// t > now-window.
func (l *sendLog) expire(now time.Time, window time.Duration) {
	edge := now.Add(-window)
	for l.n > 0 && !l.times[l.start].After(edge) {
		l.start = (l.start + 1) % len(l.times)
		l.n--
	}
}

// sweep evicts, once per window, the users with no send in the window, so
// memory follows the active users only.
func (r *RateLimiter) sweep(now time.Time) {
	if now.Sub(r.lastSweep) < r.window {
		return
	}
	r.lastSweep = now
	for id, l := range r.users {
		if l.expire(now, r.window); l.n == 0 {
			delete(r.users, id)
		}
	}
}

// tracked returns the number of users tracked (tests).
func (r *RateLimiter) tracked() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.users)
}
