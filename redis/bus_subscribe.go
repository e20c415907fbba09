package redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/globalchat/globalchat"
)

const (
	// pubsubHealth is how long a subscription may stay silent before it
	// is pinged; a ping unanswered for as long ends the connection.
	pubsubHealth = 5 * time.Second
	minBackoff   = 100 * time.Millisecond
	maxBackoff   = 5 * time.Second
	catchUpPage  = 500
)

// Subscribe implements globalchat.Bus. It starts one goroutine that reads
// global-chat:messages and calls handler, one call at a time, in seq
// order. It returns once the subscriber knows the seq it starts after
// (or after a few timeouts, if Redis does not answer; Publish on this bus
// waits for that point, so this instance's own messages reach handler).
func (b *Bus) Subscribe(handler func(globalchat.Message)) {
	b.mu.Lock()
	if b.closed || handler == nil || b.sub != nil {
		again := b.sub != nil
		b.mu.Unlock()
		if again {
			b.log.Warn("redis bus: Subscribe called twice; keeping the first handler")
		}
		return
	}
	s := &subscriber{bus: b, handler: handler, ready: make(chan struct{})}
	b.sub = s
	b.mu.Unlock()

	go s.run()
	select {
	case <-s.ready:
	case <-time.After(2 * b.timeout):
		b.log.Warn("redis bus: subscriber not started yet; Redis does not answer")
	}
}

// waitReady waits until this bus's subscriber, if any, knows where it
// starts, so that a message published here is never before that point.
func (b *Bus) waitReady(ctx context.Context) error {
	b.mu.Lock()
	s, closed := b.sub, b.closed
	b.mu.Unlock()
	if closed {
		return errBusClosed
	}
	if s == nil {
		return nil
	}
	select {
	case <-s.ready:
		return nil
	case <-b.ctx.Done():
		return errBusClosed
	case <-ctx.Done():
		return fmt.Errorf("redis: publish: subscriber not started: %w: %w", globalchat.ErrUnavailable, ctx.Err())
	}
}

// subscriber delivers the messages of global-chat:messages to a handler.
// last and started belong to its goroutine.
type subscriber struct {
	bus     *Bus
	handler func(globalchat.Message)
	ready   chan struct{} // closed once last is known
	started bool
	last    int64 // seq of the last message delivered

	mu      sync.Mutex
	ps      *goredis.PubSub
	stopped bool
}

// run keeps a subscription open until the bus closes, reconnecting with
// backoff.
func (s *subscriber) run() {
	backoff := minBackoff
	for {
		subscribed, err := s.session()
		if s.bus.ctx.Err() != nil {
			return
		}
		if subscribed {
			backoff = minBackoff
		}
		s.bus.log.Warn("redis bus: subscription lost, reconnecting", "err", err, "in", backoff)
		select {
		case <-s.bus.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// session reads one subscription until it fails; subscribed says whether
// it got as far as subscribing.
func (s *subscriber) session() (subscribed bool, err error) {
	ctx := s.bus.ctx
	if !s.started {
		if err := s.start(ctx); err != nil {
			return false, err
		}
	}
	ps := s.bus.client.Subscribe(ctx, channelMessages)
	if !s.setPubSub(ps) {
		ps.Close()
		return false, errBusClosed
	}
	defer func() {
		s.setPubSub(nil)
		ps.Close()
	}()
	for {
		m, err := nextMessage(ctx, ps, s.bus.timeout, "redis bus")
		if err != nil {
			return subscribed, err
		}
		switch m := m.(type) {
		case *goredis.Subscription:
			if m.Kind == "subscribe" {
				subscribed = true
				if err := s.resume(ctx); err != nil {
					return subscribed, err
				}
			}
		case *goredis.Message:
			if err := s.receive(ctx, m.Payload); err != nil {
				return subscribed, err
			}
		}
	}
}

// start reads the room's seq: the subscriber delivers what comes after.
func (s *subscriber) start(ctx context.Context) error {
	c, cancel := withTimeout(ctx, s.bus.timeout)
	defer cancel()
	last, err := s.bus.client.Get(c, keySeq).Int64()
	if err != nil && !errors.Is(err, goredis.Nil) {
		return unavailable("read seq", err)
	}
	s.last, s.started = last, true
	raise(&s.bus.floor, last)
	close(s.ready)
	return nil
}

// resume runs once subscribed. A Redis that restarted empty counts from
// zero again: raising its counter to the last seq delivered here keeps
// numbers from being reused. Then whatever was published while this
// subscriber was not subscribed is in the cache: it is delivered first.
func (s *subscriber) resume(ctx context.Context) error {
	c, cancel := withTimeout(ctx, s.bus.timeout)
	err := s.bus.ensure.Run(c, s.bus.client, []string{keySeq}, s.last).Err()
	cancel()
	if err != nil {
		return unavailable("resume", err)
	}
	return s.deliverCached(ctx, "+inf")
}

// receive delivers one published message: nothing if it was delivered
// already, and first what is missing before it.
func (s *subscriber) receive(ctx context.Context, payload string) error {
	m, err := decodeMessage(payload)
	if err != nil {
		s.bus.log.Warn("redis bus: message skipped", "err", err)
		return nil
	}
	if m.Seq <= s.last {
		return nil
	}
	if m.Seq > s.last+1 {
		if err := s.deliverCached(ctx, "("+strconv.FormatInt(m.Seq, 10)); err != nil {
			return err
		}
		if m.Seq <= s.last {
			return nil
		}
		if m.Seq > s.last+1 {
			s.bus.log.Warn("redis bus: seq jumped over messages not in the cache (EnsureSeq, or cache trimmed or lost)",
				"after", s.last, "next", m.Seq)
		}
	}
	s.deliver(m)
	return nil
}

// deliverCached delivers the cached messages after the last delivered, up
// to maxScore (a ZRANGEBYSCORE bound), page by page.
func (s *subscriber) deliverCached(ctx context.Context, maxScore string) error {
	from := s.last
	for {
		c, cancel := withTimeout(ctx, s.bus.timeout)
		page, err := s.bus.client.ZRangeByScoreWithScores(c, keyRecent, &goredis.ZRangeBy{
			Min: "(" + strconv.FormatInt(from, 10), Max: maxScore, Count: catchUpPage,
		}).Result()
		cancel()
		if err != nil {
			return unavailable("catch up", err)
		}
		for _, z := range page {
			from = int64(z.Score)
			m, err := decodeMessage(z.Member)
			if err != nil {
				s.bus.log.Warn("redis bus: cached message skipped", "err", err)
				continue
			}
			if m.Seq <= s.last {
				continue
			}
			if m.Seq > s.last+1 {
				s.bus.log.Warn("redis bus: seq jumped over messages not in the cache (EnsureSeq, or cache trimmed or lost)",
					"after", s.last, "next", m.Seq)
			}
			s.deliver(m)
		}
		if len(page) < catchUpPage {
			return nil
		}
	}
}

func (s *subscriber) deliver(m globalchat.Message) {
	s.handler(m)
	s.last = m.Seq
	raise(&s.bus.floor, m.Seq)
}

// setPubSub records the open subscription so that stop can close it; it
// returns false once stopped.
func (s *subscriber) setPubSub(ps *goredis.PubSub) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped && ps != nil {
		return false
	}
	s.ps = ps
	return true
}

// stop ends the subscription: closing it unblocks the reading goroutine.
func (s *subscriber) stop() {
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
