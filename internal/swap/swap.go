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

// current is the implementation a forwarder forwards to.
type current[T any] struct{ p atomic.Pointer[T] }

func (c *current[T]) get() T { return *c.p.Load() }

func (c *current[T]) set(v T) { c.p.Store(&v) }

// Swap makes next current and returns the previous one, which the caller
// closes if it must.
func (c *current[T]) Swap(next T) (previous T) { return *c.p.Swap(&next) }

// Presence forwards to the current presence.
type Presence struct{ current[globalchat.Presence] }

var _ globalchat.Presence = (*Presence)(nil)

// NewPresence returns a Presence forwarding to p.
func NewPresence(p globalchat.Presence) *Presence {
	s := &Presence{}
	s.set(p)
	return s
}

// Add implements globalchat.Presence.
func (s *Presence) Add(ctx context.Context, c globalchat.Conn) (bool, int, error) {
	return s.get().Add(ctx, c)
}

// Remove implements globalchat.Presence.
func (s *Presence) Remove(ctx context.Context, socketID string) (globalchat.Departure, error) {
	return s.get().Remove(ctx, socketID)
}

// Online implements globalchat.Presence.
func (s *Presence) Online(ctx context.Context, limit int) (int, []globalchat.User, error) {
	return s.get().Online(ctx, limit)
}

// RateLimiter forwards to the current limiter.
type RateLimiter struct {
	current[globalchat.RateLimiter]
}

var _ globalchat.RateLimiter = (*RateLimiter)(nil)

// NewRateLimiter returns a RateLimiter forwarding to l.
func NewRateLimiter(l globalchat.RateLimiter) *RateLimiter {
	s := &RateLimiter{}
	s.set(l)
	return s
}

// Allow implements globalchat.RateLimiter.
func (s *RateLimiter) Allow(ctx context.Context, userID string) (globalchat.Decision, error) {
	return s.get().Allow(ctx, userID)
}

// Sessions forwards to the current session store.
type Sessions struct{ current[socketio.SessionStore] }

var _ socketio.SessionStore = (*Sessions)(nil)

// NewSessions returns a Sessions forwarding to st.
func NewSessions(st socketio.SessionStore) *Sessions {
	s := &Sessions{}
	s.set(st)
	return s
}

// Save implements socketio.SessionStore.
func (s *Sessions) Save(ctx context.Context, st socketio.SessionState, ttl time.Duration) error {
	return s.get().Save(ctx, st, ttl)
}

// Take implements socketio.SessionStore.
func (s *Sessions) Take(ctx context.Context, pid string) (socketio.SessionState, error) {
	return s.get().Take(ctx, pid)
}

// Adapter forwards to the current Socket.IO adapter. Its Swap differs
// from the others': the next adapter must start (subscribe) before it is
// current, and may fail to.
type Adapter struct {
	cur     current[socketio.Adapter]
	mu      sync.Mutex
	deliver func(socketio.Broadcast)
}

var _ socketio.Adapter = (*Adapter)(nil)

// NewAdapter returns an Adapter forwarding to a.
func NewAdapter(a socketio.Adapter) *Adapter {
	s := &Adapter{}
	s.cur.set(a)
	return s
}

// Swap starts next with the delivery function and makes it current; it
// returns the previous adapter, which the caller closes.
func (s *Adapter) Swap(ctx context.Context, next socketio.Adapter) (previous socketio.Adapter, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.deliver != nil {
		if err := next.Start(ctx, s.deliver); err != nil {
			return nil, err
		}
	}
	return s.cur.Swap(next), nil
}

// Start implements socketio.Adapter.
func (s *Adapter) Start(ctx context.Context, deliver func(socketio.Broadcast)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deliver = deliver
	return s.cur.get().Start(ctx, deliver)
}

// Publish implements socketio.Adapter.
func (s *Adapter) Publish(ctx context.Context, b socketio.Broadcast) error {
	return s.cur.get().Publish(ctx, b)
}

// Close implements socketio.Adapter.
func (s *Adapter) Close() error { return s.cur.get().Close() }

// Typing forwards to the current typing list.
type Typing struct{ current[globalchat.Typing] }

var _ globalchat.Typing = (*Typing)(nil)

// NewTyping returns a Typing forwarding to t.
func NewTyping(t globalchat.Typing) *Typing {
	s := &Typing{}
	s.set(t)
	return s
}

// Set implements globalchat.Typing.
func (s *Typing) Set(ctx context.Context, u globalchat.User, until time.Time) error {
	return s.get().Set(ctx, u, until)
}

// Clear implements globalchat.Typing.
func (s *Typing) Clear(ctx context.Context, u globalchat.User) error {
	return s.get().Clear(ctx, u)
}

// List implements globalchat.Typing.
func (s *Typing) List(ctx context.Context, now time.Time, limit int) ([]globalchat.User, int, error) {
	return s.get().List(ctx, now, limit)
}
