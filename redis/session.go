package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/globalchat/globalchat/socketio"
)

var _ socketio.SessionStore = (*SessionStore)(nil)

// DefaultSessionPrefix is the key prefix of the recovery sessions.
const DefaultSessionPrefix = "global-chat:recovery:"

// SessionStore keeps the Socket.IO sessions of disconnected sockets in
// Redis, as {prefix}{pid} JSON with a TTL, so a client may recover on any
// instance.
type SessionStore struct {
	client *goredis.Client
	prefix string
}

// NewSessionStore returns a SessionStore with keys prefix+pid (prefix ""
// takes DefaultSessionPrefix).
func NewSessionStore(client *goredis.Client, prefix string) *SessionStore {
	if prefix == "" {
		prefix = DefaultSessionPrefix
	}
	return &SessionStore{client: client, prefix: prefix}
}

// Save implements socketio.SessionStore. A ttl <= 0 keeps nothing.
func (s *SessionStore) Save(ctx context.Context, st socketio.SessionState, ttl time.Duration) error {
	ctx, cancel := withTimeout(ctx, defaultTimeout)
	defer cancel()
	if ttl <= 0 {
		return unavailable("session save", s.client.Del(ctx, s.prefix+st.PID).Err())
	}
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("redis: session save: %w", err)
	}
	return unavailable("session save", s.client.Set(ctx, s.prefix+st.PID, b, max(ttl, time.Millisecond)).Err())
}

// Take implements socketio.SessionStore: GETDEL, so only one taker wins.
func (s *SessionStore) Take(ctx context.Context, pid string) (socketio.SessionState, error) {
	ctx, cancel := withTimeout(ctx, defaultTimeout)
	defer cancel()
	b, err := s.client.GetDel(ctx, s.prefix+pid).Bytes()
	if errors.Is(err, goredis.Nil) {
		return socketio.SessionState{}, socketio.ErrSessionNotFound
	}
	if err != nil {
		return socketio.SessionState{}, unavailable("session take", err)
	}
	var st socketio.SessionState
	if err := json.Unmarshal(b, &st); err != nil {
		return socketio.SessionState{}, fmt.Errorf("redis: session take: %w", err)
	}
	return st, nil
}
