package socketio_test

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/globalchat/globalchat/socketio"
	"github.com/globalchat/globalchat/socketio/sockettest"
)

// savedSessions is a SessionStore that records what it is given.
type savedSessions struct {
	socketio.SessionStore
	mu    sync.Mutex
	saved map[string]time.Duration // pid -> ttl
}

func (s *savedSessions) Save(ctx context.Context, st socketio.SessionState, ttl time.Duration) error {
	s.mu.Lock()
	s.saved[st.PID] = ttl
	s.mu.Unlock()
	return s.SessionStore.Save(ctx, st, ttl)
}

func (s *savedSessions) ttl(pid string) (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ttl, ok := s.saved[pid]
	return ttl, ok
}

// SaveOnConnect is asked at each connect: a server that starts without
// the shared store and gets it later (Redis answering after the start)
// saves the sessions of the connections that come after, and SaveSessions
// saves those that came before.
func TestSaveOnConnectFollowsTheStore(t *testing.T) {
	var shared atomic.Bool
	sessions := &savedSessions{SessionStore: socketio.NewMemorySessions(), saved: map[string]time.Duration{}}
	srv, err := socketio.NewServer(socketio.Options{Recovery: &socketio.RecoveryOptions{
		Sessions: sessions, SaveOnConnect: shared.Load, ConnectedTTL: time.Hour,
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	pid := func(reply json.RawMessage) string {
		var r struct{ PID string }
		if err := json.Unmarshal(reply, &r); err != nil || r.PID == "" {
			t.Fatalf("CONNECT reply %s without a pid", reply)
		}
		return r.PID
	}

	_, reply := sockettest.Connect(t, srv, nil, sockettest.Options{})
	before := pid(reply)
	if _, ok := sessions.ttl(before); ok {
		t.Fatal("a session saved at connect while the store is not shared")
	}

	shared.Store(true)
	_, reply = sockettest.Connect(t, srv, nil, sockettest.Options{})
	if ttl, ok := sessions.ttl(pid(reply)); !ok || ttl != time.Hour {
		t.Fatalf("a connection after the switch: saved %v with ttl %v, want saved for the connected TTL", ok, ttl)
	}
	if _, ok := sessions.ttl(before); ok {
		t.Fatal("the earlier connection saved before SaveSessions")
	}
	if n := srv.SaveSessions(); n != 2 {
		t.Fatalf("SaveSessions saved %d, want 2", n)
	}
	if _, ok := sessions.ttl(before); !ok {
		t.Fatal("the earlier connection not saved by SaveSessions")
	}
}
