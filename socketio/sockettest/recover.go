package sockettest

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/globalchat/globalchat/socketio"
)

// SavedSessions is a session store that tells of each session it saved:
// a test knows from it when a dropped client can come back and recover.
type SavedSessions struct {
	socketio.SessionStore
	Saved chan string // the pid of each session saved
}

// NewSavedSessions wraps an in-memory store.
func NewSavedSessions() SavedSessions {
	return SavedSessions{socketio.NewMemorySessions(), make(chan string, 4)}
}

func (s SavedSessions) Save(ctx context.Context, st socketio.SessionState, ttl time.Duration) error {
	err := s.SessionStore.Save(ctx, st, ttl)
	s.Saved <- st.PID
	return err
}

// Recover drops c, whose CONNECT reply was reply, waits until sessions
// has saved its session, and connects to h again as a client recovering
// does: with the session's pid and offset. It returns the new client and
// its CONNECT reply.
func Recover(t testing.TB, h http.Handler, sessions SavedSessions, c *Client, reply json.RawMessage, offset string) (*Client, json.RawMessage) {
	t.Helper()
	var first struct{ PID string }
	if err := json.Unmarshal(reply, &first); err != nil || first.PID == "" {
		t.Fatalf("sockettest: a CONNECT reply with no pid to recover: %s", reply)
	}
	c.Drop()
	select {
	case <-sessions.Saved:
	case <-time.After(Wait):
		t.Fatal("sockettest: no session saved after the drop")
	}
	return Connect(t, h, map[string]string{"pid": first.PID, "offset": offset}, Options{})
}
