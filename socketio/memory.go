package socketio

import (
	"context"
	"slices"
	"sync"
	"time"
)

// memorySessions is the in-memory SessionStore, the default: lost
// sessions in a map, swept as they expire.
type memorySessions struct {
	now      func() time.Time
	mu       sync.Mutex
	sessions map[string]memorySession
	swept    time.Time
}

type memorySession struct {
	state   SessionState
	expires time.Time
}

// NewMemorySessions returns the in-memory SessionStore a server uses by
// default, for a server that needs to name it (one instance alone).
func NewMemorySessions() SessionStore { return newMemorySessions() }

func newMemorySessions() *memorySessions {
	return &memorySessions{now: time.Now, sessions: make(map[string]memorySession)}
}

// Save implements SessionStore.
func (m *memorySessions) Save(_ context.Context, s SessionState, ttl time.Duration) error {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if now.Sub(m.swept) > ttl/4 {
		for pid, x := range m.sessions {
			if now.After(x.expires) {
				delete(m.sessions, pid)
			}
		}
		m.swept = now
	}
	m.sessions[s.PID] = memorySession{s, now.Add(ttl)}
	return nil
}

// Take implements SessionStore.
func (m *memorySessions) Take(_ context.Context, pid string) (SessionState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	x, ok := m.sessions[pid]
	delete(m.sessions, pid)
	if !ok || m.now().After(x.expires) {
		return SessionState{}, ErrSessionNotFound
	}
	return x.state, nil
}

// memoryLog is the default Replayer: the recent broadcasts that carry an
// offset, bounded in count and age.
type memoryLog struct {
	now    func() time.Time
	maxAge time.Duration
	max    int

	mu      sync.Mutex
	entries []logEntry
}

type logEntry struct {
	offset string
	at     time.Time
	b      Broadcast
}

func newMemoryLog(maxAge time.Duration, max int) *memoryLog {
	return &memoryLog{now: time.Now, maxAge: maxAge, max: max}
}

func (l *memoryLog) append(offset string, b Broadcast) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	drop := 0
	for drop < len(l.entries) && (len(l.entries)-drop >= l.max || now.Sub(l.entries[drop].at) > l.maxAge) {
		drop++
	}
	if drop > 0 {
		l.entries = slices.Delete(l.entries, 0, drop)
	}
	l.entries = append(l.entries, logEntry{offset, now, b})
}

// Replay implements Replayer: the broadcasts after offset that reach a
// socket in rooms.
func (l *memoryLog) Replay(_ context.Context, nsp string, rooms []string, offset string) ([]Broadcast, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := slices.IndexFunc(l.entries, func(e logEntry) bool { return e.offset == offset })
	if i < 0 {
		return nil, false, nil
	}
	var out []Broadcast
	for _, e := range l.entries[i+1:] {
		if e.b.Namespace == nsp && reaches(e.b, rooms) {
			out = append(out, e.b)
		}
	}
	return out, true, nil
}

// reaches reports whether a socket in rooms is a target of b.
func reaches(b Broadcast, rooms []string) bool {
	for _, r := range b.Except {
		if slices.Contains(rooms, r) {
			return false
		}
	}
	if len(b.Rooms) == 0 {
		return true
	}
	for _, r := range b.Rooms {
		if slices.Contains(rooms, r) {
			return true
		}
	}
	return false
}
