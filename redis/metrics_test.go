package redis

import (
	"context"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/globalchat/globalchat/internal/testenv"
	"github.com/prometheus/client_golang/prometheus"
)

// TestCommandMetrics: commands are timed by pool and command; failures
// are counted, nil answers are not.
func TestCommandMetrics(t *testing.T) {
	srv := testenv.Redis(t)
	c, err := NewClient(srv.URL(), TLSFiles{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	reg := prometheus.NewRegistry()
	NewCommandMetrics(reg).Instrument(c, "flows")
	ctx := context.Background()
	c.Get(ctx, "missing")      // nil: an answer
	c.Do(ctx, "NOSUCHCOMMAND") // an error
	c.Pipelined(ctx, func(p goredis.Pipeliner) error { p.Ping(ctx); return nil })
	counts := map[string]float64{}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += " " + l.GetValue()
			}
			if h := m.GetHistogram(); h != nil {
				counts[key] = float64(h.GetSampleCount())
			} else {
				counts[key] = m.GetCounter().GetValue()
			}
		}
	}
	for key, want := range map[string]float64{
		"redis_command_seconds get flows": 1, "redis_command_seconds pipeline flows": 1,
		"redis_command_errors_total nosuchcommand flows": 1, "redis_command_errors_total get flows": 0,
	} {
		if counts[key] != want {
			t.Errorf("%s = %v, want %v (%v)", key, counts[key], want, counts)
		}
	}
}
