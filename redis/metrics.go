package redis

import (
	"context"
	"errors"
	"net"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"
)

// CommandMetrics measure the commands of the clients they instrument: the
// latency of each command (a pipeline as one, named "pipeline") and its
// errors (not redis.Nil, which is an answer), by pool.
type CommandMetrics struct {
	latency *prometheus.HistogramVec
	errors  *prometheus.CounterVec
}

// NewCommandMetrics registers the metrics on reg.
func NewCommandMetrics(reg prometheus.Registerer) *CommandMetrics {
	m := &CommandMetrics{
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "redis_command_seconds", Help: "Redis command latency by client pool and command (a pipeline counts as one, \"pipeline\").",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 3},
		}, []string{"pool", "command"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "redis_command_errors_total", Help: "Redis commands that failed (timeouts, refused connections, script errors; not nil answers), by pool and command (\"dial\" for connections).",
		}, []string{"pool", "command"}),
	}
	reg.MustRegister(m.latency, m.errors)
	return m
}

// Instrument hooks client's commands as pool. Call it before the client is
// used; a nil m does nothing.
func (m *CommandMetrics) Instrument(client *goredis.Client, pool string) {
	if m != nil && client != nil {
		client.AddHook(commandHook{m: m, pool: pool})
	}
}

type commandHook struct {
	m    *CommandMetrics
	pool string
}

func (h commandHook) DialHook(next goredis.DialHook) goredis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := next(ctx, network, addr)
		if err != nil {
			h.m.errors.WithLabelValues(h.pool, "dial").Inc()
		}
		return conn, err
	}
}

func (h commandHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if setup(cmd.Name()) {
			return next(ctx, cmd)
		}
		start := time.Now()
		err := next(ctx, cmd)
		h.observe(strings.ToLower(cmd.Name()), start, err)
		return err
	}
}

func (h commandHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		if len(cmds) > 0 && setup(cmds[0].Name()) {
			return next(ctx, cmds)
		}
		start := time.Now()
		err := next(ctx, cmds)
		h.observe("pipeline", start, err)
		return err
	}
}

// setup tells the commands of a new connection (go-redis's handshake,
// whose CLIENT SETINFO an older server refuses, harmlessly) apart.
func setup(name string) bool {
	switch strings.ToLower(name) {
	case "hello", "client", "auth", "select":
		return true
	}
	return false
}

func (h commandHook) observe(command string, start time.Time, err error) {
	h.m.latency.WithLabelValues(h.pool, command).Observe(time.Since(start).Seconds())
	if err != nil && !errors.Is(err, goredis.Nil) {
		h.m.errors.WithLabelValues(h.pool, command).Inc()
	}
}
