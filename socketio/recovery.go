package socketio

import (
	"context"
	"errors"
	"time"
)

// ErrSessionNotFound is returned by a SessionStore that holds no session
// for a private id (never saved, expired, or already taken).
var ErrSessionNotFound = errors.New("socketio: session not found")

// SessionState is what connection state recovery keeps of a socket that
// lost its connection: enough to give it back its id and rooms. The offset comes
// from the client, which knows the last one it received.
type SessionState struct {
	PID       string    `json:"pid"` // private id, known only to the client
	SID       string    `json:"sid"` // public socket id
	Namespace string    `json:"nsp"`
	Rooms     []string  `json:"rooms"`
	Lost      time.Time `json:"lost"` // when the connection was lost
}

// SessionStore keeps the sessions of disconnected sockets for the
// recovery window. An implementation backed by a shared store (Redis)
// lets a client recover on another instance.
type SessionStore interface {
	// Save keeps s for ttl.
	Save(ctx context.Context, s SessionState, ttl time.Duration) error
	// Take returns and forgets the session of pid, or ErrSessionNotFound.
	Take(ctx context.Context, pid string) (SessionState, error)
}

// Replayer returns the packets a recovering socket missed: the broadcasts
// sent after offset to rooms it is in, oldest first, each encoded with its
// own offset as last argument. ok is false when offset is no longer known,
// in which case recovery fails and the client connects afresh.
type Replayer interface {
	Replay(ctx context.Context, nsp string, rooms []string, offset string) (missed []Broadcast, ok bool, err error)
}
