package redis

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

const (
	// pubsubHealth is how long a subscription may stay silent before it
	// is pinged; a ping unanswered for as long ends the connection.
	pubsubHealth = 5 * time.Second
	minBackoff   = 100 * time.Millisecond
	maxBackoff   = 5 * time.Second
)

// errStopped ends the session of a stopped subscription.
var errStopped = errors.New("redis: subscription stopped")

// subscription keeps a pub/sub subscription to its channels open until
// its context ends or it is stopped, reconnecting with backoff: the loop
// the bus's subscriber and the Socket.IO adapter share. Its hooks run on
// the loop's goroutine, one at a time; an error from one ends the session
// (the loop then subscribes again).
type subscription struct {
	client   *goredis.Client
	channels []string
	timeout  time.Duration // one call to Redis
	log      *slog.Logger
	who      string // "redis bus", "redis adapter": what the log lines name

	// prepare, if set, runs before each subscribe.
	prepare func(ctx context.Context) error
	// subscribed runs once every channel is subscribed.
	subscribed func(ctx context.Context) error
	// message runs for each message received.
	message func(ctx context.Context, payload string) error
	// ended, if set, runs when a session ends.
	ended func()

	mu      sync.Mutex
	ps      *goredis.PubSub
	stopped bool
}

// run subscribes again and again until ctx ends or stop is called.
func (s *subscription) run(ctx context.Context) {
	backoff := minBackoff
	for {
		ok, err := s.session(ctx)
		if ctx.Err() != nil {
			return
		}
		if ok {
			backoff = minBackoff
		}
		s.log.Warn(s.who+": subscription lost, reconnecting", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// session reads one subscription until it fails; ok says whether it got
// as far as subscribing to every channel.
func (s *subscription) session(ctx context.Context) (ok bool, err error) {
	if s.prepare != nil {
		if err := s.prepare(ctx); err != nil {
			return false, err
		}
	}
	ps := s.client.Subscribe(ctx, s.channels...)
	if !s.setPubSub(ps) {
		ps.Close()
		return false, errStopped
	}
	defer func() {
		if s.ended != nil {
			s.ended()
		}
		s.setPubSub(nil)
		ps.Close()
	}()
	for {
		m, err := nextMessage(ctx, ps, s.timeout, s.who)
		if err != nil {
			return ok, err
		}
		switch m := m.(type) {
		case *goredis.Subscription:
			if m.Kind == "subscribe" && m.Count == len(s.channels) {
				ok = true
				if err := s.subscribed(ctx); err != nil {
					return ok, err
				}
			}
		case *goredis.Message:
			if err := s.message(ctx, m.Payload); err != nil {
				return ok, err
			}
		}
	}
}

// setPubSub records the open subscription so that stop can close it; it
// returns false once stopped.
func (s *subscription) setPubSub(ps *goredis.PubSub) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped && ps != nil {
		return false
	}
	s.ps = ps
	return true
}

// stop ends the subscription: closing it unblocks the reading goroutine.
func (s *subscription) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
	if s.ps != nil {
		s.ps.Close()
	}
}

// nextMessage returns a subscription's next message. A silence of
// pubsubHealth is answered with a PING; a second one means the connection
// is dead (a half-open TCP connection would otherwise never tell).
func nextMessage(ctx context.Context, ps *goredis.PubSub, timeout time.Duration, who string) (any, error) {
	pinged := false
	for {
		m, err := ps.ReceiveTimeout(ctx, pubsubHealth)
		if err == nil {
			return m, nil
		}
		if !isTimeout(err) || ctx.Err() != nil {
			return nil, err
		}
		if pinged {
			return nil, errors.New(who + ": no answer to ping")
		}
		c, cancel := withTimeout(ctx, timeout)
		err = ps.Ping(c)
		cancel()
		if err != nil {
			return nil, err
		}
		pinged = true
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
