package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// maxDrain bounds the wait for late deliveries after a step, whatever the
// progress.
const maxDrain = 60 * time.Second

// fanStep counts one rate step of the fanout.
type fanStep struct {
	rate     float64
	sent     atomic.Uint64
	acksOK   atomic.Uint64
	acksErr  atomic.Uint64
	received atomic.Uint64
	lastRecv atomic.Int64 // unixnano of the latest delivery
	hist     Histogram
	start    atomic.Int64                // unixnano the step started sending
	perSec   [timelineSecs]atomic.Uint64 // highest latency (µs) of each second, by send time
}

// timelineSecs bounds the per-second timeline of a step.
const timelineSecs = 600

// messageArg is the chat:message payload. A retry carries the first
// try's ClientMsgID, by which the server stores and broadcasts it once.
type messageArg struct {
	Content     string `json:"content"`
	ClientMsgID string `json:"clientMsgId,omitempty"`
}

var ackOK = []byte(`"ok":true`)

// fanout: cfg.Clients receivers and cfg.Senders senders spread over the
// URLs; for each rate in turn the senders send that many messages a second
// in total for cfg.Duration, and every receiver measures each delivery.
// An unmeasured warm-up at the first rate comes first (connection pools,
// JIT, caches), so that a step of a few hundred messages does not have its
// p99 set by the first few.
func (b *bench) fanout(ctx context.Context, res *Result) error {
	cfg := b.cfg
	// steps[0] is the warm-up.
	steps := []*fanStep{{rate: cfg.Rates[0]}}
	for _, r := range cfg.Rates {
		steps = append(steps, &fanStep{rate: r})
	}
	var current atomic.Pointer[fanStep]
	current.Store(steps[0])
	recv := func(_ *peer, pkt []byte) {
		if !isEvent(pkt, evMessage) {
			return
		}
		k, sent, ok := parseContent(pkt, b.run)
		if !ok || k >= len(steps) {
			return
		}
		now := time.Now()
		st := steps[k]
		st.hist.Record(now.Sub(sent))
		st.recordSecond(sent, now.Sub(sent))
		st.received.Add(1)
		st.lastRecv.Store(now.UnixNano())
	}
	acks := func(_ *peer, pkt []byte) {
		if _, body, ok := ackOf(pkt); ok {
			if bytes.Contains(body, ackOK) {
				current.Load().acksOK.Add(1)
			} else {
				current.Load().acksErr.Add(1)
			}
		}
	}
	receivers, err := b.connectMany(ctx, "r", cfg.Clients, recv, true)
	if err != nil {
		return err
	}
	best := -1
	for k, st := range steps {
		current.Store(st)
		d := cfg.Duration
		if k == 0 {
			d = cfg.Warmup
		}
		s, err := b.step(ctx, k, st, d, receivers, acks)
		if err != nil {
			return err
		}
		b.log.Info("fanout step", "warmup", k == 0, "rate", s.Rate, "deliveries/s", int(s.DeliveriesSec), "ratio", s.Ratio, "p99ms", s.P99ms, "pass", s.Pass)
		if k == 0 {
			continue
		}
		res.Steps = append(res.Steps, s)
		if s.Pass {
			best = len(res.Steps) - 1
		} else if len(cfg.Rates) > 1 {
			break // higher rates would only miss by more
		}
	}
	b.fanoutMetrics(res, best)
	return nil
}

// step runs one rate for d with fresh senders (distinct users), so that
// the per-user rate limit, a sliding minute, never spans steps.
func (b *bench) step(ctx context.Context, k int, st *fanStep, d time.Duration, receivers []*peer, acks handler) (Step, error) {
	senders, err := b.connectMany(ctx, fmt.Sprintf("s%d-", k), b.sendersFor(st.rate), acks, true)
	if err != nil {
		return Step{}, err
	}
	defer func() {
		for _, p := range senders {
			p.Close()
		}
	}()
	if err := sleepCtx(ctx, b.cfg.Settle); err != nil {
		return Step{}, err
	}
	before := alive(receivers)
	cpu := startCPU(b.cfg.PIDs)
	profiled := func() {}
	if k > 0 {
		profiled = b.cpuProfile(ctx, fmt.Sprintf("rate%.0f", st.rate), d)
	}
	start := time.Now()
	st.start.Store(start.UnixNano())
	if err := b.send(ctx, senders, k, st, start, start.Add(d)); err != nil {
		return Step{}, err
	}
	sendEnd := time.Now()
	profiled()
	after := b.drain(ctx, st, receivers)
	cores, _ := cpu.stop()
	return st.summary(before, after, start, sendEnd, cores, b.cfg), nil
}

// sendersFor is how many senders a rate needs so that none passes 90% of
// the servers' per-user limit within a minute.
func (b *bench) sendersFor(rate float64) int {
	window := min(b.cfg.Duration, time.Minute).Seconds()
	need := int(math.Ceil(rate * window / (0.9 * float64(b.cfg.UserLimit))))
	return max(b.cfg.Senders, need)
}

// send paces the senders: each sends rate/len(senders) messages a second,
// staggered, on an absolute schedule (a late send does not shift the next).
func (b *bench) send(ctx context.Context, senders []*peer, k int, st *fanStep, start, end time.Time) error {
	interval := time.Duration(float64(len(senders)) / st.rate * float64(time.Second))
	var wg sync.WaitGroup
	for i, s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := start.Add(interval * time.Duration(i) / time.Duration(len(senders)))
			for n := 0; next.Before(end) && ctx.Err() == nil; n++ {
				if d := time.Until(next); d > 0 {
					time.Sleep(d)
				}
				arg := messageArg{Content: content(b.run, k, time.Now(), fmt.Sprintf("s%d-%d", i, n))}
				if _, err := s.EmitAck(evMessage, arg); err != nil {
					return // the sender's connection is gone; Step.Disconnects shows it
				}
				st.sent.Add(1)
				next = next.Add(interval)
			}
		}()
	}
	wg.Wait()
	return ctx.Err()
}

// drain waits for late deliveries and acks: until every live receiver has
// every message and every send its ack (which comes after the commit, so
// after the deliveries), or nothing arrived for cfg.Drain, or maxDrain. It
// returns the receivers still connected.
func (b *bench) drain(ctx context.Context, st *fanStep, receivers []*peer) int {
	last, lastChange, began := st.received.Load(), time.Now(), time.Now()
	for ctx.Err() == nil && time.Since(began) < maxDrain {
		n := alive(receivers)
		got := st.received.Load()
		acked := st.acksOK.Load() + st.acksErr.Load()
		if (got >= st.sent.Load()*uint64(n) && acked >= st.sent.Load()) || time.Since(lastChange) > b.cfg.Drain {
			return n
		}
		got += acked // progress of either kind keeps the wait going
		if got != last {
			last, lastChange = got, time.Now()
		}
		time.Sleep(50 * time.Millisecond)
	}
	return alive(receivers)
}

// recordSecond keeps the highest latency of the second the message was
// sent in, so that stalls show as a timeline.
func (st *fanStep) recordSecond(sent time.Time, d time.Duration) {
	i := int(sent.UnixNano()-st.start.Load()) / int(time.Second)
	if i < 0 || i >= timelineSecs {
		return
	}
	v := uint64(max(d.Microseconds(), 0))
	for {
		m := st.perSec[i].Load()
		if v <= m || st.perSec[i].CompareAndSwap(m, v) {
			return
		}
	}
}

// timeline is the highest latency (ms) of each second of sending.
func (st *fanStep) timeline(d time.Duration) []float64 {
	n := min(int(d/time.Second)+1, timelineSecs)
	out := make([]float64, n)
	for i := range out {
		out[i] = float64(st.perSec[i].Load()) / 1000
	}
	return out
}

func (st *fanStep) summary(before, after int, start, sendEnd time.Time, cores float64, cfg *config) Step {
	sent, got := st.sent.Load(), st.received.Load()
	// Throughput over the time deliveries took, not just the sending: a
	// server that falls behind delivers late and so at a lower rate.
	end := sendEnd
	if last := time.Unix(0, st.lastRecv.Load()); last.After(end) {
		end = last
	}
	s := Step{
		Rate: st.rate, Sent: sent, Received: got, Expected: sent * uint64(before),
		SentPerSec:    float64(sent) / sendEnd.Sub(start).Seconds(),
		DeliveriesSec: float64(got) / end.Sub(start).Seconds(),
		P50ms:         ms(st.hist.Quantile(0.50)),
		P99ms:         ms(st.hist.Quantile(0.99)),
		MaxMs:         ms(st.hist.Max()),
		AckErrors:     st.acksErr.Load(),
		AcksMissing:   sent - min(sent, st.acksOK.Load()+st.acksErr.Load()),
		Disconnects:   before - after,
		ServerCores:   cores,
		MaxMsBySecond: st.timeline(sendEnd.Sub(start)),
	}
	if s.Expected > 0 {
		s.Ratio = float64(got) / float64(s.Expected)
	}
	s.Pass = s.Ratio >= cfg.MinRatio && s.P99ms <= ms(cfg.P99Max) && s.Disconnects == 0 && s.AckErrors == 0 && s.AcksMissing == 0
	return s
}

func (b *bench) fanoutMetrics(res *Result, bestStep int) {
	if len(b.cfg.Rates) == 1 {
		s := res.Steps[0]
		res.add("messages/s sent", s.SentPerSec, "msg/s", "")
		res.add("deliveries/s", s.DeliveriesSec, "msg/s", "higher")
		res.add("delivery ratio", s.Ratio, "", "higher")
		res.add("latency p50", s.P50ms, "ms", "lower")
		res.add("latency p99", s.P99ms, "ms", "lower")
		res.add("latency max", s.MaxMs, "ms", "lower")
		res.add("receivers disconnected", float64(s.Disconnects), "", "lower")
		res.add("ack errors", float64(s.AckErrors), "", "lower")
		res.add("acks missing", float64(s.AcksMissing), "", "lower")
		res.add("server CPU", s.ServerCores, "cores", "")
		return
	}
	if bestStep < 0 {
		res.add(fmt.Sprintf("max deliveries/s at p99 ≤ %v", b.cfg.P99Max), 0, "msg/s", "higher")
		res.note("no rate met p99 ≤ %v with delivery ratio ≥ %v", b.cfg.P99Max, b.cfg.MinRatio)
		return
	}
	best := res.Steps[bestStep]
	res.add(fmt.Sprintf("max deliveries/s at p99 ≤ %v", b.cfg.P99Max), best.DeliveriesSec, "msg/s", "higher")
	res.add("  at messages/s", best.SentPerSec, "msg/s", "higher")
	res.add("  latency p99 there", best.P99ms, "ms", "lower")
	res.add("  server CPU there", best.ServerCores, "cores", "")
	if last := res.Steps[len(res.Steps)-1]; !last.Pass {
		res.note("next step %.0f msg/s missed: ratio %.4f, p99 %.1f ms, %d disconnects, %d ack errors, %d acks missing",
			last.Rate, last.Ratio, last.P99ms, last.Disconnects, last.AckErrors, last.AcksMissing)
	} else {
		res.note("every step passed: the highest rate tried is a lower bound")
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
