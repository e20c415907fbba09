package inmem

import (
	"context"
	"sync"
	"time"

	"github.com/globalchat/globalchat/socketio"
)

var _ socketio.SessionStore = (*SessionStore)(nil)

// SessionStore keeps the Socket.IO sessions of disconnected sockets of a
// single instance, each until its TTL. Expired sessions are swept at most
// once per sweepEvery, so memory follows the sessions still recoverable.
type SessionStore struct {
	clock func() time.Time

	mu        sync.Mutex
	sessions  map[string]sessionEntry
	lastSweep time.Time
}

type sessionEntry struct {
	state   socketio.SessionState
	expires time.Time
}

const sweepEvery = 10 * time.Second

// NewSessionStore returns an empty SessionStore.
func NewSessionStore() *SessionStore {
	return &SessionStore{clock: time.Now, sessions: make(map[string]sessionEntry)}
}

// Save implements socketio.SessionStore. A ttl <= 0 keeps nothing.
func (s *SessionStore) Save(ctx context.Context, st socketio.SessionState, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := s.clock()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep(now)
	if ttl <= 0 {
		delete(s.sessions, st.PID)
		return nil
	}
	st.Rooms = append([]string(nil), st.Rooms...)
	s.sessions[st.PID] = sessionEntry{state: st, expires: now.Add(ttl)}
	return nil
}

// Take implements socketio.SessionStore.
func (s *SessionStore) Take(ctx context.Context, pid string) (socketio.SessionState, error) {
	if err := ctx.Err(); err != nil {
		return socketio.SessionState{}, err
	}
	now := s.clock()
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.sessions[pid]
	delete(s.sessions, pid)
	if !ok || !now.Before(e.expires) {
		return socketio.SessionState{}, socketio.ErrSessionNotFound
	}
	return e.state, nil
}

func (s *SessionStore) sweep(now time.Time) {
	if now.Sub(s.lastSweep) < sweepEvery {
		return
	}
	s.lastSweep = now
	for pid, e := range s.sessions {
		if !now.Before(e.expires) {
			delete(s.sessions, pid)
		}
	}
}

func (s *SessionStore) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}
