package bandwidth

import (
	"context"
	"log/slog"
	"time"
)

// FlushTimeout bounds one Flush.
const FlushTimeout = 2 * time.Second

// Flusher samples a Meter every second into a Store.
type Flusher struct {
	Meter    *Meter
	Store    Store
	Instance string
	// Online returns the users online in the cluster; nil or an error
	// leave it out.
	Online func(ctx context.Context) (int, error)
	Logger *slog.Logger
	// Every is the sampling period; default one second.
	Every time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time

	prev   Totals
	prevAt time.Time
	failed bool
}

// Run flushes every period until ctx is done, then once more.
func (f *Flusher) Run(ctx context.Context) {
	if f.Every <= 0 {
		f.Every = time.Second
	}
	if f.Now == nil {
		f.Now = time.Now
	}
	if f.Logger == nil {
		f.Logger = slog.New(slog.DiscardHandler)
	}
	f.prevAt = f.Now()
	tick := time.NewTicker(f.Every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			f.Flush(context.Background())
			return
		case <-tick.C:
			f.Flush(ctx)
		}
	}
}

// Flush takes one sample and stores it; a failure is logged once until
// a flush succeeds again.
func (f *Flusher) Flush(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, FlushTimeout)
	defer cancel()
	s := f.sample(ctx)
	err := f.Store.Flush(ctx, s)
	switch {
	case err != nil && !f.failed:
		f.Logger.Warn("bandwidth: flush failed; retrying every second", "err", err)
	case err == nil && f.failed:
		f.Logger.Info("bandwidth: flushing again")
	}
	f.failed = err != nil
	if err == nil {
		f.prev, f.prevAt = s.Totals, s.At
	}
}

func (f *Flusher) sample(ctx context.Context) Sample {
	now := f.Now()
	t := f.Meter.Totals()
	s := Sample{Instance: f.Instance, At: now, Elapsed: now.Sub(f.prevAt), Totals: t, Delta: t.Sub(f.prev), Online: -1,
		Connections: int(t.ConnsOpened - t.ConnsClosed)}
	if f.Online != nil {
		if n, err := f.Online(ctx); err == nil {
			s.Online = n
		}
	}
	return s
}
