package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
)

// storm: a probe pair (one sender, one receiver, in a process of its own:
// see probe.go) connects first; then cfg.Clients clients connect all at
// once while the probe sends a message every cfg.ProbeEvery. A client is
// in when its chat:history has arrived.
func (b *bench) storm(ctx context.Context, res *Result) error {
	cfg := b.cfg
	probe, err := startProbe(ctx, cfg)
	if err != nil {
		return err
	}
	if err := sleepCtx(ctx, cfg.Settle); err != nil {
		probe.stop()
		return err
	}

	cpu := startCPU(cfg.PIDs)
	profiled := b.cpuProfile(ctx, "", 10*time.Second)
	defer profiled()
	stormCtx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	var joinTime Histogram
	var in, failed, refused atomic.Int64
	var firstErr atomic.Value
	var lastIn atomic.Int64
	peers := make([]*peer, cfg.Clients)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range cfg.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// n from 2 so the storm's source addresses continue the probe's.
			p, err := b.connectRetrying(stormCtx, "c", i+2, &refused)
			if err != nil {
				if failed.Add(1) == 1 {
					firstErr.Store(err.Error())
				}
				return
			}
			now := time.Now()
			joinTime.Record(now.Sub(start))
			in.Add(1)
			lastIn.Store(now.UnixNano())
			peers[i] = p
		}()
	}
	wg.Wait()
	allIn := time.Unix(0, lastIn.Load()).Sub(start)
	// Presence sent for the last joins (coalesced once a second) still
	// counts: give it the settle time.
	_ = sleepCtx(ctx, max(cfg.Settle, 1500*time.Millisecond))
	rep, err := probe.stop()
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	cores, _ := cpu.stop()

	var frames, withPresence int64
	minFrames := int64(-1)
	for _, p := range peers {
		if p == nil {
			continue
		}
		f := p.presence.Load()
		frames += f
		if f > 0 {
			withPresence++
		}
		if minFrames < 0 || f < minFrames {
			minFrames = f
		}
	}
	n := in.Load()
	res.add("clients in (history received)", float64(n), "", "higher")
	res.add("handshakes refused for now (tried again)", float64(refused.Load()), "", "")
	if n == int64(cfg.Clients) {
		res.add("time until all in", allIn.Seconds(), "s", "lower")
	} else {
		res.add("time until all in", cfg.Timeout.Seconds(), "s", "lower")
		res.note("%d of %d clients not in within %v; first error: %v", cfg.Clients-int(n), cfg.Clients, cfg.Timeout, firstErr.Load())
	}
	res.addMs("join time p50", joinTime.Quantile(0.5))
	res.addMs("join time p99", joinTime.Quantile(0.99))
	if n > 0 {
		res.add("presence frames per client (mean)", float64(frames)/float64(n), "", "")
		res.add("presence frames per client (min)", float64(max(minFrames, 0)), "", "")
	}
	res.add("clients with presence", float64(withPresence), "", "higher")
	res.add("probe latency p99", rep.P99Ms, "ms", "lower")
	res.add("probe latency max", rep.MaxMs, "ms", "lower")
	res.add("probe messages lost", float64(rep.Sent)-float64(rep.Got), "", "lower")
	res.add("server CPU", cores, "cores", "")
	return nil
}

// retryAfter is how long a client refused for now waits before it tries
// again: what the server's Retry-After says (1 s), as the official
// client's reconnection waits about a second.
const retryAfter = time.Second

// connectRetrying connects as connect does; a handshake refused for now
// (503 Server busy, 429 Too Many Requests: a server bounding the sessions
// it opens at once, see MAX_UNCONNECTED) is tried again after retryAfter,
// and a little jitter so that the refused do not come back together,
// until ctx ends. refused counts those refusals.
func (b *bench) connectRetrying(ctx context.Context, role string, n int, refused *atomic.Int64) (*peer, error) {
	for {
		p, err := b.connect(ctx, role, n, nil)
		var status ws.StatusError
		if !errors.As(err, &status) || (status != http.StatusServiceUnavailable && status != http.StatusTooManyRequests) {
			return p, err
		}
		refused.Add(1)
		jitter := time.Duration(rand.Int64N(int64(retryAfter / 2)))
		if err := sleepCtx(ctx, retryAfter+jitter); err != nil {
			return nil, err
		}
	}
}
