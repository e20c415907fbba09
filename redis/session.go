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
//
// Concurrent saves (a connect storm saves one per connection) share round
// trips: Close stops that.
type SessionStore struct {
	pipe   *autoPipeline
	prefix string
}

// NewSessionStore returns a SessionStore with keys prefix+pid (prefix ""
// takes DefaultSessionPrefix).
func NewSessionStore(client *goredis.Client, prefix string) *SessionStore {
	if prefix == "" {
		prefix = DefaultSessionPrefix
	}
	return &SessionStore{pipe: newAutoPipeline(client), prefix: prefix}
}

// Close sends the saves pending and stops.
func (s *SessionStore) Close() error {
	s.pipe.close()
	return nil
}

// Save implements socketio.SessionStore. A ttl <= 0 keeps nothing.
func (s *SessionStore) Save(ctx context.Context, st socketio.SessionState, ttl time.Duration) error {
	ctx, cancel := withTimeout(ctx, defaultTimeout)
	defer cancel()
	var cmd goredis.Cmder
	queue := func(p goredis.Pipeliner) { cmd = p.Del(ctx, s.prefix+st.PID) }
	if ttl > 0 {
		b, err := json.Marshal(st)
		if err != nil {
			return fmt.Errorf("redis: session save: %w", err)
		}
		queue = func(p goredis.Pipeliner) { cmd = p.Set(ctx, s.prefix+st.PID, b, max(ttl, time.Millisecond)) }
	}
	if err := s.pipe.do(ctx, "session save", queue); err != nil {
		return err
	}
	return unavailable("session save", cmd.Err())
}

// Take implements socketio.SessionStore: GETDEL, so only one taker wins.
func (s *SessionStore) Take(ctx context.Context, pid string) (socketio.SessionState, error) {
	ctx, cancel := withTimeout(ctx, defaultTimeout)
	defer cancel()
	var get *goredis.StringCmd
	if err := s.pipe.do(ctx, "session take", func(p goredis.Pipeliner) { get = p.GetDel(ctx, s.prefix+pid) }); err != nil {
		return socketio.SessionState{}, err
	}
	b, err := get.Bytes()
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
