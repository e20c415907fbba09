package main

import (
	"context"
	"log/slog"

	"github.com/globalchat/globalchat/bandwidth"
	"github.com/globalchat/globalchat/chat"
	"github.com/globalchat/globalchat/socketio"
	"github.com/globalchat/globalchat/socketio/engineio"
	"github.com/prometheus/client_golang/prometheus"
)

// accounting is the server's traffic accounting (BANDWIDTH_ACCOUNTING):
// the meter the hot path counts on, and the flusher that samples it into
// the store every second. Off, the meter is nil and nothing is counted.
type accounting struct {
	meter *bandwidth.Meter
	store bandwidth.Store
	stop  context.CancelFunc
	done  chan struct{}
}

// newAccounting keeps the figures in store, or in memory when it is nil
// (embedded mode).
func newAccounting(cfg config, store bandwidth.Store, reg prometheus.Registerer) *accounting {
	if cfg.Accounting == "off" {
		return &accounting{}
	}
	if store == nil {
		store = bandwidth.NewMemory(cfg.AccountInterval, cfg.AccountWindow)
	}
	m := bandwidth.NewMeter()
	reg.MustRegister(m)
	return &accounting{meter: m, store: store}
}

// registerQueues exports the depth of the connections' outbound queues.
func registerQueues(reg prometheus.Registerer, io *socketio.Server) {
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "engineio_queued_frames", Help: "Frames waiting in the connections' outbound queues.",
		}, func() float64 { f, _ := io.Queued(); return float64(f) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "engineio_queued_bytes", Help: "Bytes waiting in the connections' outbound queues.",
		}, func() float64 { _, b := io.Queued(); return float64(b) }),
	)
}

// engine is what Engine.IO counts on: nil when off, so that it costs
// nothing.
func (a *accounting) engine() engineio.Traffic {
	if a.meter == nil {
		return nil
	}
	return a.meter
}

// chat is what the chat counts its messages on: nil when off.
func (a *accounting) chat() chat.Traffic {
	if a.meter == nil {
		return nil
	}
	return a.meter
}

// start runs the flusher until close.
func (a *accounting) start(instance string, online func(context.Context) (int, error), log *slog.Logger) {
	if a.meter == nil {
		return
	}
	ctx, stop := context.WithCancel(context.Background())
	a.stop, a.done = stop, make(chan struct{})
	f := &bandwidth.Flusher{Meter: a.meter, Store: a.store, Instance: instance,
		Online: online, Logger: log}
	go func() {
		defer close(a.done)
		f.Run(ctx)
	}()
}

// close stops the flusher after a last flush.
func (a *accounting) close() {
	if a.stop != nil {
		a.stop()
		<-a.done
		a.stop = nil
	}
}
