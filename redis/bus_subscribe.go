package redis

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/globalchat/globalchat"
)

// catchUpPage is how many messages a catch-up reads at once.
const catchUpPage = 500

// Subscribe implements globalchat.Bus. It starts one goroutine that reads
// global-chat:messages and calls handler, one call at a time, in seq
// order. It returns once the subscriber knows the seq it starts after
// (or after a few timeouts, if Redis does not answer; Publish on this bus
// waits for that point, so this instance's own messages reach handler).
func (b *Bus) Subscribe(after int64, handler func(globalchat.Message)) {
	b.mu.Lock()
	if b.closed || handler == nil || b.sub != nil {
		again := b.sub != nil
		b.mu.Unlock()
		if again {
			b.log.Warn("redis bus: Subscribe called twice; keeping the first handler")
		}
		return
	}
	s := &subscriber{bus: b, handler: handler, after: after, ready: make(chan struct{})}
	s.sub = &subscription{
		client: b.client, channels: []string{channelMessages}, timeout: b.timeout, log: b.log, who: "redis bus",
		prepare: s.prepare, subscribed: s.resume, message: s.receive,
		ended: func() { s.live.Store(false) },
	}
	b.sub = s
	b.mu.Unlock()

	go s.sub.run(b.ctx)
	select {
	case <-s.ready:
	case <-time.After(2 * b.timeout):
		b.log.Warn("redis bus: subscriber not started yet; Redis does not answer")
	}
}

// Ready says whether the subscriber is subscribed and caught up: an
// instance moving back to Redis waits for it, so that it sees what the
// others publish from then on.
func (b *Bus) Ready() bool {
	b.mu.Lock()
	s := b.sub
	b.mu.Unlock()
	return s != nil && s.live.Load()
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
// last and started belong to its subscription's goroutine.
type subscriber struct {
	bus     *Bus
	sub     *subscription
	handler func(globalchat.Message)
	after   int64         // Subscribe's start point (< 0: the room's seq)
	ready   chan struct{} // closed once last is known
	started bool
	last    int64       // seq of the last message delivered
	live    atomic.Bool // subscribed and caught up
}

// prepare runs before each subscribe: the first time, it finds where the
// subscriber starts.
func (s *subscriber) prepare(ctx context.Context) error {
	if s.started {
		return nil
	}
	return s.start(ctx)
}

// start reads where the subscriber starts: after Subscribe's start point
// when it has one (so that what was published before this subscriber
// first reached Redis is caught up from the cache, the spool and the
// store), else after the room's seq.
func (s *subscriber) start(ctx context.Context) error {
	last := s.after
	if last < 0 {
		c, cancel := withTimeout(ctx, s.bus.timeout)
		seq, err := s.bus.client.Get(c, keySeq).Int64()
		cancel()
		if err != nil && !errors.Is(err, goredis.Nil) {
			return unavailable("read seq", err)
		}
		last = seq
	}
	s.last, s.started = last, true
	raise(&s.bus.floor, last)
	close(s.ready)
	return nil
}

// resume runs once subscribed. A Redis that restarted empty counts from
// zero again: raising its counter to the last seq delivered here keeps
// numbers from being reused. Then whatever was published while this
// subscriber was not subscribed is in the cache: it is delivered first,
// and the subscriber is live.
func (s *subscriber) resume(ctx context.Context) error {
	c, cancel := withTimeout(ctx, s.bus.timeout)
	err := s.bus.ensure.Run(c, s.bus.client, []string{keySeq, keyRecent}, s.last).Err()
	cancel()
	if err != nil {
		return unavailable("resume", err)
	}
	if err := s.catchUp(ctx, 0); err != nil {
		return err
	}
	s.live.Store(true)
	return nil
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
		if err := s.catchUp(ctx, m.Seq); err != nil {
			return err
		}
		if m.Seq <= s.last {
			return nil
		}
	}
	s.deliver(m)
	return nil
}

// catchUp delivers, in seq order, what was published after the last
// delivered and before seq before (0: no bound): from the cache, and where
// the cache does not reach back to the last delivered (trimmed, or lost
// with Redis's data), from the spool and the store. A seq found in none
// of them is a hole that stays one: publish.lua caches and spools a
// message in the step that publishes it, and a message leaves the spool
// only once stored.
func (s *subscriber) catchUp(ctx context.Context, before int64) error {
	for {
		page, err := s.cached(ctx, before)
		if err != nil {
			return err
		}
		if len(page) == 0 || page[0].Seq > s.last+1 {
			upTo := before
			if len(page) > 0 {
				upTo = page[0].Seq
			}
			if err := s.fill(ctx, upTo); err != nil {
				return err
			}
		}
		for _, m := range page {
			if m.Seq > s.last {
				s.deliver(m)
			}
		}
		if len(page) < catchUpPage {
			return nil
		}
	}
}

// cached returns a page of the cache after the last delivered, below before.
func (s *subscriber) cached(ctx context.Context, before int64) ([]globalchat.Message, error) {
	return s.bus.rangeOf(ctx, keyRecent, s.last, before, catchUpPage)
}

// fill delivers, from the spool and the store, what lies after the last
// delivered and below before (0: no bound).
func (s *subscriber) fill(ctx context.Context, before int64) error {
	for {
		spooled, err := s.bus.rangeOf(ctx, keySpool, s.last, before, catchUpPage)
		if err != nil {
			return err
		}
		var stored []globalchat.Message
		if s.bus.fill != nil {
			c, cancel := withTimeout(ctx, s.bus.timeout)
			stored, err = s.bus.fill(c, s.last, catchUpPage)
			cancel()
			if err != nil {
				// The store is down: the cache and the spool are all
				// there is (what neither holds was stored before the
				// outage and is read from the store later).
				s.bus.log.Warn("redis bus: gap not filled from the store", "after", s.last, "err", err)
			}
		}
		page := mergeSeq(spooled, stored, before)
		for _, m := range page {
			s.deliver(m)
		}
		if len(spooled) < catchUpPage && len(stored) < catchUpPage {
			return nil
		}
		if len(page) == 0 {
			return nil
		}
	}
}

// rangeOf reads up to limit messages of the ZSET key with after < seq <
// before (0: no bound), oldest first.
func (b *Bus) rangeOf(ctx context.Context, key string, after, before int64, limit int) ([]globalchat.Message, error) {
	maxScore := "+inf"
	if before > 0 {
		maxScore = "(" + strconv.FormatInt(before, 10)
	}
	c, cancel := withTimeout(ctx, b.timeout)
	defer cancel()
	//lint:ignore SA1019 ZRANGEBYSCORE runs on every Redis; ZRANGE BYSCORE needs 6.2
	vals, err := b.client.ZRangeByScore(c, key, &goredis.ZRangeBy{
		Min: "(" + strconv.FormatInt(after, 10), Max: maxScore, Count: int64(limit),
	}).Result()
	if err != nil {
		return nil, unavailable("catch up", err)
	}
	msgs := make([]globalchat.Message, 0, len(vals))
	for _, v := range vals {
		m, err := decodeMessage(v)
		if err != nil {
			b.log.Warn("redis bus: cached message skipped", "err", err)
			continue
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// mergeSeq merges two seq-ordered lists into one, each seq once, below
// before (0: no bound).
func mergeSeq(a, b []globalchat.Message, before int64) []globalchat.Message {
	out := make([]globalchat.Message, 0, len(a)+len(b))
	out = append(append(out, a...), b...)
	slices.SortStableFunc(out, func(x, y globalchat.Message) int { return cmp.Compare(x.Seq, y.Seq) })
	out = slices.CompactFunc(out, func(x, y globalchat.Message) bool { return x.Seq == y.Seq })
	if before > 0 {
		i, _ := slices.BinarySearchFunc(out, before, func(m globalchat.Message, seq int64) int { return cmp.Compare(m.Seq, seq) })
		out = out[:i]
	}
	return out
}

func (s *subscriber) deliver(m globalchat.Message) {
	s.handler(m)
	s.last = m.Seq
	raise(&s.bus.floor, m.Seq)
}

// stop ends the subscription.
func (s *subscriber) stop() { s.sub.stop() }
