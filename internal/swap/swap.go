// Package swap holds implementations of the domain interfaces that forward
// to another one and can be switched at run time: the server starts on the
// in-memory ones when Redis does not answer, and moves to Redis once it
// does, without restarting or rewiring the chat.
package swap

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/globalchat/globalchat"
	"github.com/globalchat/globalchat/socketio"
)

// Presence forwards to the current presence.
type Presence struct {
	cur atomic.Pointer[globalchat.Presence]
}

var _ globalchat.Presence = (*Presence)(nil)

// NewPresence returns a Presence forwarding to p.
func NewPresence(p globalchat.Presence) *Presence {
	s := &Presence{}
	s.cur.Store(&p)
	return s
}

// Swap makes next current and returns the previous one.
func (s *Presence) Swap(next globalchat.Presence) globalchat.Presence { return *s.cur.Swap(&next) }

// Add implements globalchat.Presence.
func (s *Presence) Add(ctx context.Context, c globalchat.Conn) (bool, int, error) {
	return (*s.cur.Load()).Add(ctx, c)
}

// Remove implements globalchat.Presence.
func (s *Presence) Remove(ctx context.Context, socketID string) (globalchat.User, bool, int, bool, error) {
	return (*s.cur.Load()).Remove(ctx, socketID)
}

// Online implements globalchat.Presence.
func (s *Presence) Online(ctx context.Context, limit int) (int, []globalchat.User, error) {
	return (*s.cur.Load()).Online(ctx, limit)
}

// RateLimiter forwards to the current limiter.
type RateLimiter struct {
	cur atomic.Pointer[globalchat.RateLimiter]
}

var _ globalchat.RateLimiter = (*RateLimiter)(nil)

// NewRateLimiter returns a RateLimiter forwarding to l.
func NewRateLimiter(l globalchat.RateLimiter) *RateLimiter {
	s := &RateLimiter{}
	s.cur.Store(&l)
	return s
}

// Swap makes next current.
func (s *RateLimiter) Swap(next globalchat.RateLimiter) { s.cur.Store(&next) }

// Allow implements globalchat.RateLimiter.
func (s *RateLimiter) Allow(ctx context.Context, userID string) (globalchat.Decision, error) {
	return (*s.cur.Load()).Allow(ctx, userID)
}

// Sessions forwards to the current session store.
type Sessions struct {
	cur atomic.Pointer[socketio.SessionStore]
}

var _ socketio.SessionStore = (*Sessions)(nil)

// NewSessions returns a Sessions forwarding to st.
func NewSessions(st socketio.SessionStore) *Sessions {
	s := &Sessions{}
	s.cur.Store(&st)
	return s
}

// Swap makes next current.
func (s *Sessions) Swap(next socketio.SessionStore) { s.cur.Store(&next) }

// Save implements socketio.SessionStore.
func (s *Sessions) Save(ctx context.Context, st socketio.SessionState, ttl time.Duration) error {
	return (*s.cur.Load()).Save(ctx, st, ttl)
}

// Take implements socketio.SessionStore.
func (s *Sessions) Take(ctx context.Context, pid string) (socketio.SessionState, error) {
	return (*s.cur.Load()).Take(ctx, pid)
}

// Adapter forwards to the current Socket.IO adapter.
type Adapter struct {
	cur     atomic.Pointer[socketio.Adapter]
	mu      sync.Mutex
	deliver func(socketio.Broadcast)
}

var _ socketio.Adapter = (*Adapter)(nil)

// NewAdapter returns an Adapter forwarding to a.
func NewAdapter(a socketio.Adapter) *Adapter {
	s := &Adapter{}
	s.cur.Store(&a)
	return s
}

// Swap starts next with the delivery function and makes it current; it
// returns the previous adapter, which the caller closes.
func (s *Adapter) Swap(ctx context.Context, next socketio.Adapter) (socketio.Adapter, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.deliver != nil {
		if err := next.Start(ctx, s.deliver); err != nil {
			return nil, err
		}
	}
	return *s.cur.Swap(&next), nil
}

// Start implements socketio.Adapter.
func (s *Adapter) Start(ctx context.Context, deliver func(socketio.Broadcast)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deliver = deliver
	return (*s.cur.Load()).Start(ctx, deliver)
}

// Publish implements socketio.Adapter.
func (s *Adapter) Publish(ctx context.Context, b socketio.Broadcast) error {
	return (*s.cur.Load()).Publish(ctx, b)
}

// Close implements socketio.Adapter.
func (s *Adapter) Close() error { return (*s.cur.Load()).Close() }
