package main

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// idle: the server's resident memory before and after cfg.Clients idle
// connections, and its CPU over cfg.Duration while they stay idle (only
// heartbeats flow).
func (b *bench) idle(ctx context.Context, res *Result) error {
	cfg := b.cfg
	if len(cfg.PIDs) == 0 {
		return errors.New("idle needs -pid (the server's process id)")
	}
	base, err := rssBytes(cfg.PIDs[0])
	if err != nil {
		return err
	}
	baseProm := b.quietGauges(ctx)
	// The whole connecting is bounded by cfg.Timeout: a server that takes
	// longer is measured with the connections it took.
	setup, cancel := context.WithTimeout(ctx, cfg.Timeout)
	peers, err := b.connectMany(setup, "i", cfg.Clients, nil, false)
	cancel()
	if len(peers) == 0 {
		return err
	}
	if err != nil {
		res.note("%v: measured with the %d that got in", err, len(peers))
	}
	// Let the connection flow's work (history, presence) finish and the
	// garbage it left be collected, as it would be on a server that has
	// been up for a while (the bench script gives it 5 s).
	if err := sleepCtx(ctx, cfg.Settle); err != nil {
		return err
	}
	b.heapProfile(ctx, "")
	cpu := startCPU(cfg.PIDs[:1])
	if err := sleepCtx(ctx, cfg.Duration); err != nil {
		return err
	}
	cores, _ := cpu.stop()
	rss, err := rssBytes(cfg.PIDs[0])
	if err != nil {
		return err
	}
	n := float64(alive(peers))
	res.add("connections held", n, "", "higher")
	res.add("server RSS before", float64(base)/(1<<20), "MiB", "")
	res.add("server RSS with all connected", float64(rss)/(1<<20), "MiB", "lower")
	res.add("server memory per connection", float64(rss-base)/n/1024, "KiB", "lower")
	res.add("server CPU while idle", cores, "cores", "lower")
	if prom := b.promGauges(ctx); prom != nil && baseProm != nil {
		res.add("Go heap in use per connection", (prom["go_memstats_heap_inuse_bytes"]-baseProm["go_memstats_heap_inuse_bytes"])/n/1024, "KiB", "lower")
		res.add("goroutines per connection", (prom["go_goroutines"]-baseProm["go_goroutines"])/n, "", "lower")
		res.add("Go stacks per connection", (prom["go_memstats_stack_inuse_bytes"]-baseProm["go_memstats_stack_inuse_bytes"])/n/1024, "KiB", "lower")
	}
	return nil
}

// quietGauges reads the gauges once the server's goroutine count stops
// falling (for up to 5 s): connections of an earlier run still closing
// would count in the baseline, and make a connection's share look smaller.
func (b *bench) quietGauges(ctx context.Context) map[string]float64 {
	prev := b.promGauges(ctx)
	for range 25 {
		if prev == nil || sleepCtx(ctx, 200*time.Millisecond) != nil {
			return prev
		}
		cur := b.promGauges(ctx)
		if cur == nil || cur["go_goroutines"] >= prev["go_goroutines"] {
			return cur
		}
		prev = cur
	}
	return prev
}

// promGauges reads a few Go runtime gauges from the first server's
// /metrics, nil when it has none (the reference).
func (b *bench) promGauges(ctx context.Context) map[string]float64 {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.cfg.URLs[0]+"/metrics", nil)
	if err != nil {
		return nil
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil
	}
	want := map[string]bool{"go_memstats_heap_inuse_bytes": true, "go_goroutines": true, "go_memstats_stack_inuse_bytes": true}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if ok && want[name] {
			if v, err := strconv.ParseFloat(value, 64); err == nil {
				out[name] = v
			}
		}
	}
	if len(out) != len(want) {
		return nil
	}
	return out
}
