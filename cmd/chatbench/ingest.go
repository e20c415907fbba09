package main

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// ackTimeout bounds the wait for one ack in the ingest.
const ackTimeout = 10 * time.Second

// ingest: cfg.Senders distinct users each send a message, wait for its
// ack, and send the next, for cfg.Duration. An ok ack means the message
// is stored (both servers ack after the database write).
func (b *bench) ingest(ctx context.Context, res *Result) error {
	cfg := b.cfg
	onAck := func(p *peer, pkt []byte) {
		if _, body, ok := ackOf(pkt); ok {
			select {
			case p.acks <- bytes.Contains(body, ackOK):
			default: // an ack that came after its timeout
			}
		}
	}
	senders, err := b.connectMany(ctx, "w", cfg.Senders, onAck, true)
	if err != nil {
		return err
	}
	if err := sleepCtx(ctx, cfg.Settle); err != nil {
		return err
	}
	var lat Histogram
	var ok, failed, timedOut atomic.Uint64
	cpu := startCPU(cfg.PIDs)
	profiled := b.cpuProfile(ctx, "", cfg.Duration)
	defer profiled()
	start := time.Now()
	end := start.Add(cfg.Duration)
	var wg sync.WaitGroup
	for i, s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTimer(ackTimeout)
			defer t.Stop()
			for n := 0; time.Now().Before(end) && ctx.Err() == nil; n++ {
				sent := time.Now()
				if _, err := s.EmitAck(evMessage, messageArg{Content: content(b.run, 0, sent, fmt.Sprintf("w%d-%d", i, n))}); err != nil {
					failed.Add(1)
					return
				}
				t.Reset(ackTimeout)
				select {
				case good := <-s.acks:
					lat.Record(time.Since(sent))
					if good {
						ok.Add(1)
					} else {
						failed.Add(1)
					}
				case <-t.C:
					timedOut.Add(1)
				case <-s.done:
					failed.Add(1)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cores, _ := cpu.stop()
	res.add("stored messages/s", float64(ok.Load())/elapsed.Seconds(), "msg/s", "higher")
	res.addMs("ack latency p50", lat.Quantile(0.5))
	res.addMs("ack latency p99", lat.Quantile(0.99))
	res.addMs("ack latency max", lat.Max())
	res.add("refused or failed sends", float64(failed.Load()), "", "lower")
	res.add("acks timed out", float64(timedOut.Load()), "", "lower")
	res.add("server CPU", cores, "cores", "")
	return nil
}
