package redis

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

const (
	scanCount   = 200 // SSCAN/ZSCAN page
	refreshPage = 500 // sockets per PEXPIRE pipeline
)

// beat is what one heartbeat learned.
type beat struct {
	registered bool  // this instance was not registered
	now        int64 // Redis time, ms
	dead       []string
}

// Start registers this instance and runs, until Close, its heartbeat and
// the reaper of dead instances. ctx bounds the first heartbeat only.
func (p *Presence) Start(ctx context.Context) error {
	p.mu.Lock()
	if p.started || p.closed {
		p.mu.Unlock()
		return errors.New("redis: presence already started or closed")
	}
	p.started = true
	p.mu.Unlock()

	first, err := p.heartbeat(ctx)
	if err != nil {
		return err
	}
	loopCtx, cancel := context.WithCancel(context.Background())
	p.mu.Lock()
	p.cancel, p.done = cancel, make(chan struct{})
	p.mu.Unlock()
	go p.loop(loopCtx, first)
	return nil
}

func (p *Presence) loop(ctx context.Context, first beat) {
	defer close(p.done)
	// A previous life of this instance id may have left sockets behind.
	p.reap(ctx, p.opts.InstanceID, 0)
	p.afterBeat(ctx, first, true)
	lastSweep := time.Now()
	p.sweep(ctx)
	lastRefresh := time.Now()
	ticker := time.NewTicker(p.opts.Heartbeat)
	defer ticker.Stop()
	// Between heartbeats a cheap check of this instance's own key notices
	// a Redis that lost its data (FLUSHALL, a restart) within a second,
	// so that presence and recovery sessions are written again before a
	// client needs them, not up to a heartbeat later.
	canary := time.NewTicker(canaryEvery)
	defer canary.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		case <-canary.C:
			if !p.lost(ctx) {
				continue
			}
		}
		b, err := p.heartbeat(ctx)
		if err != nil {
			p.log.Warn("redis presence: heartbeat failed", "err", err)
			continue
		}
		// Refresh the TTLs well before they run out, and at once when
		// this instance had to register again.
		if b.registered || time.Since(lastRefresh) >= p.keyTTL/3 {
			p.refresh(ctx)
			lastRefresh = time.Now()
		}
		p.afterBeat(ctx, b, false)
		if time.Since(lastSweep) >= p.opts.SweepEvery {
			p.sweep(ctx)
			lastSweep = time.Now()
		}
	}
}

// afterBeat registers this instance's sockets again if it was missing,
// and reaps the dead instances.
func (p *Presence) afterBeat(ctx context.Context, b beat, first bool) {
	if b.registered && !first {
		p.log.Warn("redis presence: instance was reaped or Redis lost its data; registering its sockets again",
			"instance", p.opts.InstanceID)
		p.readd(ctx)
		p.opts.OnLost()
	}
	cutoff := b.now - p.opts.DeadAfter.Milliseconds()
	for _, id := range b.dead {
		if id != p.opts.InstanceID {
			p.reap(ctx, id, cutoff)
		}
	}
}

// canaryEvery is how often the instance checks that Redis still holds its
// registration.
const canaryEvery = 500 * time.Millisecond

// lost says whether this instance's heartbeat key is gone (an error says
// nothing: the heartbeat reports a Redis that does not answer).
func (p *Presence) lost(ctx context.Context) bool {
	c, cancel := withTimeout(ctx, p.opts.Timeout)
	defer cancel()
	n, err := p.client.Exists(c, keyInstance(p.opts.InstanceID)).Result()
	return err == nil && n == 0
}

func (p *Presence) heartbeat(ctx context.Context) (beat, error) {
	ctx, cancel := withTimeout(ctx, p.opts.Timeout)
	defer cancel()
	id := p.opts.InstanceID
	keys := []string{keyInstances, keyInstance(id), keyInstanceSockets(id), keyOnlineUsers, keyOnlineNames}
	res, err := p.heartbeatScript.Run(ctx, p.client, keys,
		id, p.opts.DeadAfter.Milliseconds(), p.keyTTL.Milliseconds()).Slice()
	if err != nil {
		return beat{}, unavailable("heartbeat", err)
	}
	if len(res) < 2 {
		return beat{}, fmt.Errorf("redis: heartbeat: unexpected reply %v", res)
	}
	registered, _ := res[0].(int64)
	now, _ := res[1].(int64)
	b := beat{registered: registered == 1, now: now}
	for _, v := range res[2:] {
		if s, ok := v.(string); ok {
			b.dead = append(b.dead, s)
		}
	}
	return b, nil
}

// refresh pushes back the TTL of this instance's socket and user keys.
func (p *Presence) refresh(ctx context.Context) {
	conns := p.localSockets()
	for start := 0; start < len(conns) || start == 0; start += refreshPage {
		page := conns[start:min(len(conns), start+refreshPage)]
		c, cancel := withTimeout(ctx, p.opts.Timeout)
		_, err := p.client.Pipelined(c, func(pipe goredis.Pipeliner) error {
			pipe.PExpire(c, keyInstanceSockets(p.opts.InstanceID), p.keyTTL)
			for _, conn := range page {
				pipe.PExpire(c, keyUserSocket(conn.SocketID), p.keyTTL)
				pipe.PExpire(c, keySocketInstance(conn.SocketID), p.keyTTL)
				pipe.PExpire(c, keyUserSockets(conn.User.ID), p.keyTTL)
				pipe.PExpire(c, keyUserOnline(conn.User.ID), p.keyTTL)
			}
			return nil
		})
		cancel()
		if err != nil {
			p.log.Warn("redis presence: refresh failed", "err", err)
			return
		}
	}
}

// readd registers this instance's sockets again.
func (p *Presence) readd(ctx context.Context) {
	for _, c := range p.localSockets() {
		if _, _, err := p.add(ctx, c); err != nil {
			p.log.Warn("redis presence: register again failed", "socket", c.SocketID, "err", err)
			return
		}
	}
}

// reap removes the sockets an instance left behind, reporting the users
// who left, then forgets the instance if it is still dead (last heartbeat
// not after cutoff). Reaping this instance's own id skips its live
// sockets. Several instances may reap one dead instance at once: each
// removal is atomic, so each user who left is reported once.
func (p *Presence) reap(ctx context.Context, instance string, cutoff int64) {
	own := instance == p.opts.InstanceID
	var cursor uint64
	for {
		c, cancel := withTimeout(ctx, p.opts.Timeout)
		sids, next, err := p.client.SScan(c, keyInstanceSockets(instance), cursor, "", scanCount).Result()
		cancel()
		if err != nil {
			p.log.Warn("redis presence: reap failed", "instance", instance, "err", err)
			return
		}
		for _, sid := range sids {
			if own && p.isLocal(sid) {
				continue
			}
			d, err := p.removeSocket(ctx, instance, sid)
			if err != nil {
				p.log.Warn("redis presence: reap failed", "instance", instance, "err", err)
				return
			}
			if d.Known && d.Last {
				p.opts.OnLeft(d.User, d.Count)
			}
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	if own {
		return
	}
	c, cancel := withTimeout(ctx, p.opts.Timeout)
	defer cancel()
	keys := []string{keyInstances, keyInstanceSockets(instance), keyInstance(instance)}
	if err := p.forgetScript.Run(c, p.client, keys, instance, cutoff).Err(); err != nil {
		p.log.Warn("redis presence: forget instance failed", "instance", instance, "err", err)
		return
	}
	p.log.Info("redis presence: reaped dead instance", "instance", instance)
}

// closeRemovals is how many of Close's removals run at once: they share
// the auto-pipeline's round trips, so thousands of sockets (a drained
// instance's, kept in presence for their leave grace) take a few
// pipelines rather than a round trip each.
const closeRemovals = 256

// removeLocal removes this instance's sockets, reporting the users who
// left with them; the first error is returned.
func (p *Presence) removeLocal(ctx context.Context) error {
	sem := make(chan struct{}, closeRemovals)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for _, c := range p.localSockets() {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			d, err := p.Remove(ctx, c.SocketID)
			if err != nil {
				mu.Lock()
				first = cmp.Or(first, err)
				mu.Unlock()
				return
			}
			if d.Known && d.Last {
				p.opts.OnLeft(d.User, d.Count)
			}
		}()
	}
	wg.Wait()
	return first
}

// Close stops the heartbeat and removes this instance's sockets, reporting
// through OnLeft the users who left with them, then the instance itself.
func (p *Presence) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	cancel, done := p.cancel, p.done
	p.mu.Unlock()
	defer p.pipe.close() // after the sockets below are removed
	if cancel != nil {
		cancel()
		<-done
	}
	ctx, stop := context.WithTimeout(context.Background(), 10*p.opts.Timeout)
	defer stop()
	if err := p.removeLocal(ctx); err != nil {
		return err
	}
	id := p.opts.InstanceID
	_, err := p.client.TxPipelined(ctx, func(pipe goredis.Pipeliner) error {
		pipe.ZRem(ctx, keyInstances, id)
		pipe.Del(ctx, keyInstance(id), keyInstanceSockets(id))
		return nil
	})
	return unavailable("presence close", err)
}
