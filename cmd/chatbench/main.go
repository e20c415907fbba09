// Command chatbench is a load generator for the chat: it speaks Socket.IO
// over WebSocket itself, holds many connections (spread over source
// addresses 127.0.0.1..127.0.0.N to get past one address's ephemeral
// ports) and measures one scenario against one or more server URLs:
//
//	fanout  N receivers, S senders at R messages/s in total (or stepping
//	        through -rates): deliveries/s, delivery ratio, latency
//	storm   N clients connect at once while a probe chats: time until all
//	        have their history, presence frames, probe latency
//	idle    N idle connections: server memory per connection and CPU
//	ingest  S senders, each sending again as soon as its ack comes: stored
//	        messages/s and ack latency
//	churn   N receivers whose connections are cut every -cut-every for
//	        -away, coming back with connection state recovery, while one
//	        sender sends -messages at -rate a second: the share delivered
//	        exactly once, duplicates, losses, replay latency
//	redeploy N receivers and a sender through nginx while -restart
//	        restarts each of -instances instances in turn (SIGTERM, the
//	        drain, a start again): per restart the clients cut, how soon
//	        each was back (recovered or not) and caught up; exactly once,
//	        duplicates, losses
//
// It prints a summary and, with -json, writes the result. With -report it
// instead reads results from a folder and prints one table comparing the
// targets (project, reference), optionally writing it into a markdown file
// between <!-- bench:begin --> and <!-- bench:end -->.
//
// Traffic goes only to 127.0.0.0/8. Every loop is bounded in count and
// time.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// config is every knob of a run.
type config struct {
	Scenario   string        `json:"scenario"`
	Name       string        `json:"name"`
	Target     string        `json:"target"`
	URLs       []string      `json:"urls"`
	Clients    int           `json:"clients"`
	Senders    int           `json:"senders"`
	Rates      []float64     `json:"rates"`
	Duration   time.Duration `json:"duration"`
	P99Max     time.Duration `json:"p99Max"`
	MinRatio   float64       `json:"minRatio"`
	SrcIPs     int           `json:"srcIPs"`
	Concurrent int           `json:"connectConcurrency"`
	Timeout    time.Duration `json:"timeout"`
	Settle     time.Duration `json:"settle"`
	Warmup     time.Duration `json:"warmup"`
	Drain      time.Duration `json:"drain"`
	PIDs       []int         `json:"pids"`
	InfraPIDs  []int         `json:"infraPids"`
	ProbeEvery time.Duration `json:"probeEvery"`
	CutEvery   time.Duration `json:"cutEvery,omitempty"`
	Away       time.Duration `json:"away,omitempty"`
	Messages   int           `json:"messages,omitempty"`
	UserLimit  int           `json:"userRateLimit"`
	PprofURL   string        `json:"pprofURL,omitempty"`
	ProfileDir string        `json:"-"`

	// redeploy: the restart command, how many instances it restarts, and
	// socket.io-client's reconnectionDelay.
	Restart        string        `json:"restart,omitempty"`
	Instances      int           `json:"instances,omitempty"`
	ReconnectDelay time.Duration `json:"reconnectDelay,omitempty"`

	// restarter, when set (by the tests), restarts instance i instead of
	// the Restart command.
	restarter func(ctx context.Context, i int) error

	jsonOut     string
	selfProfile string
	report      string
	mdInto      string
}

// gcPercent is the load generator's GOGC unless the environment sets one.
// It holds thousands of connections whose buffers churn: collecting four
// times less often leaves more of the shared cores to the servers under
// test, whichever they are.
const gcPercent = 400

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(os.Args[1:], os.Stdout, log); err != nil {
		fmt.Fprintln(os.Stderr, "chatbench:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer, log *slog.Logger) error {
	cfg, err := parseFlags(args)
	if err != nil {
		return err
	}
	if cfg.report != "" {
		return writeReport(cfg.report, cfg.mdInto, out)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if cfg.Scenario == "probe" { // the storm's probe process (probe.go)
		b := newBench(cfg, log)
		defer b.closeAll()
		return b.runProbe(ctx, os.Stdin, out)
	}
	stopProfile, err := startSelfProfile(cfg.selfProfile)
	if err != nil {
		return err
	}
	res, err := runScenario(ctx, cfg, log)
	if perr := stopProfile(); err == nil {
		err = perr
	}
	if err != nil {
		return err
	}
	res.print(out)
	if cfg.jsonOut != "" {
		return res.save(cfg.jsonOut)
	}
	return nil
}

func runScenario(ctx context.Context, cfg *config, log *slog.Logger) (*Result, error) {
	b := newBench(cfg, log)
	res := b.result()
	sched := schedLatencies()
	var err error
	switch cfg.Scenario {
	case "fanout":
		err = b.fanout(ctx, res)
	case "storm":
		err = b.storm(ctx, res)
	case "idle":
		err = b.idle(ctx, res)
	case "ingest":
		err = b.ingest(ctx, res)
	case "churn":
		err = b.churn(ctx, res)
	case "redeploy":
		err = b.redeploy(ctx, res)
	default:
		err = fmt.Errorf("unknown scenario %q (fanout, storm, idle, ingest, churn, redeploy)", cfg.Scenario)
	}
	b.closeAll()
	res.addMs("load generator: wait for a core p99", schedQuantile(sched, schedLatencies(), 0.99))
	res.finish()
	return res, err
}

func parseFlags(args []string) (*config, error) {
	fs := flag.NewFlagSet("chatbench", flag.ContinueOnError)
	cfg := &config{}
	var urls, rates, pids, infra string
	fs.StringVar(&cfg.Scenario, "scenario", "fanout", "fanout, storm, idle, ingest, churn or redeploy")
	fs.StringVar(&cfg.Name, "name", "", "scenario label in the result and table (default: the scenario)")
	fs.StringVar(&cfg.Target, "target", "project", "label of the server under test in the result (project, reference)")
	fs.StringVar(&urls, "url", "http://127.0.0.1:3000", "comma-separated server URLs; clients are spread over them round-robin")
	fs.IntVar(&cfg.Clients, "clients", 1000, "receivers (fanout), connecting clients (storm), idle connections (idle)")
	fs.IntVar(&cfg.Senders, "senders", 10, "sending clients (fanout, ingest)")
	fs.StringVar(&rates, "rate", "100", "messages/s in total (fanout); a comma-separated list steps up through the rates, stopping at the first that misses -p99-max or -min-ratio")
	fs.DurationVar(&cfg.Duration, "duration", 20*time.Second, "measuring time (of each rate step for fanout; the CPU window for idle)")
	fs.DurationVar(&cfg.P99Max, "p99-max", 100*time.Millisecond, "fanout: a step passes with p99 at or under this")
	fs.Float64Var(&cfg.MinRatio, "min-ratio", 0.999, "fanout: a step passes with at least this delivery ratio")
	fs.IntVar(&cfg.SrcIPs, "src-ips", 4096, "spread connections over N source addresses 127.0.x.y, each in a /24 of its own (the server's per-address bounds: 100 connections, 10 handshakes a second)")
	fs.IntVar(&cfg.Concurrent, "connect-concurrency", 200, "connections being opened at once while setting up (storm opens all at once)")
	fs.DurationVar(&cfg.Timeout, "timeout", 60*time.Second, "limit for connecting one client, and for the storm as a whole")
	fs.DurationVar(&cfg.Settle, "settle", 2*time.Second, "pause after connecting, before measuring")
	fs.DurationVar(&cfg.Warmup, "warmup", 2*time.Second, "fanout: unmeasured sending at the first rate before the measured steps")
	fs.DurationVar(&cfg.Drain, "drain", 3*time.Second, "fanout: after sending, wait this long without progress for late deliveries")
	fs.StringVar(&infra, "infra-pid", "", "comma-separated process ids of the shared services (Redis, MariaDB): with -pid and this process, what the CPU use of the rest of the machine (other work) is computed from")
	fs.DurationVar(&cfg.ProbeEvery, "probe-every", 100*time.Millisecond, "storm: how often the probe sends a message")
	fs.DurationVar(&cfg.CutEvery, "cut-every", 15*time.Second, "churn: each receiver's connection is cut this often (each at a phase of its own)")
	fs.DurationVar(&cfg.Away, "away", 2*time.Second, "churn: how long a receiver stays away after a cut")
	fs.IntVar(&cfg.Messages, "messages", 120, "churn: how many messages the sender sends, at the first -rate a second")
	fs.StringVar(&cfg.Restart, "restart", "", "redeploy: command that restarts one instance, run with the instance's index (0-based) as its last argument: it must send SIGTERM first, and return once the instance is up again")
	fs.IntVar(&cfg.Instances, "instances", 2, "redeploy: how many instances -restart restarts, one after the other")
	fs.DurationVar(&cfg.ReconnectDelay, "reconnect-delay", time.Second, "redeploy: a receiver whose connection ends reconnects after this, 50% either way at random, doubled at each failed attempt up to 5s (socket.io-client's defaults)")
	fs.IntVar(&cfg.UserLimit, "user-rate-limit", 10000, "the servers' messages per user per minute: fanout uses enough senders to stay under it")
	fs.StringVar(&pids, "pid", "", "comma-separated server process ids, for memory (idle) and CPU")
	fs.StringVar(&cfg.PprofURL, "pprof", "", "http://127.0.0.1:port of the server's net/http/pprof: take CPU and heap profiles during the scenario")
	fs.StringVar(&cfg.ProfileDir, "profile-dir", ".", "where -pprof profiles go")
	fs.StringVar(&cfg.selfProfile, "self-profile", "", "write chatbench's own CPU profile to this file: on the cores it shares with the server, the generator's cost is part of every figure")
	fs.StringVar(&cfg.jsonOut, "json", "", "write the result as JSON to this file")
	fs.StringVar(&cfg.report, "report", "", "instead of running, read the *.json results in this folder and print the comparison table")
	fs.StringVar(&cfg.mdInto, "md", "", "with -report: write the table into this markdown file between <!-- bench:begin --> and <!-- bench:end -->")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if cfg.report != "" {
		return cfg, nil
	}
	var err error
	if cfg.URLs, err = splitURLs(urls); err != nil {
		return nil, err
	}
	if cfg.Rates, err = splitFloats(rates); err != nil {
		return nil, fmt.Errorf("-rate: %w", err)
	}
	if cfg.PprofURL != "" {
		if _, err := wsURL(cfg.PprofURL); err != nil {
			return nil, fmt.Errorf("-pprof: %w", err)
		}
		cfg.PprofURL = strings.TrimRight(cfg.PprofURL, "/")
	}
	if cfg.PIDs, err = splitInts(pids); err != nil {
		return nil, fmt.Errorf("-pid: %w", err)
	}
	if cfg.InfraPIDs, err = splitInts(infra); err != nil {
		return nil, fmt.Errorf("-infra-pid: %w", err)
	}
	switch {
	case cfg.Clients < 1 || cfg.Clients > 20000:
		return nil, errors.New("-clients must be 1..20000 (the process may hold 20,000 files)")
	case cfg.Senders < 1 || cfg.Senders > 5000:
		return nil, errors.New("-senders must be 1..5000")
	case cfg.ProbeEvery < 10*time.Millisecond:
		return nil, errors.New("-probe-every must be at least 10ms")
	case cfg.UserLimit < 1:
		return nil, errors.New("-user-rate-limit must be positive")
	case cfg.SrcIPs < 1 || cfg.SrcIPs > 256*254:
		return nil, errors.New("-src-ips must be 1..65024")
	case cfg.Scenario == "churn" && (cfg.CutEvery < 100*time.Millisecond || cfg.Away < 0 || cfg.Messages < 1 || cfg.Messages > 100000):
		return nil, errors.New("churn: -cut-every at least 100ms, -away not negative, -messages 1..100000")
	case cfg.Scenario == "redeploy" && (cfg.Restart == "" || cfg.Instances < 1 || cfg.Instances > 16 || cfg.ReconnectDelay < 0):
		return nil, errors.New("redeploy: -restart is required, -instances 1..16, -reconnect-delay not negative")
	case cfg.Concurrent < 1:
		return nil, errors.New("-connect-concurrency must be positive")
	case cfg.Duration <= 0 || cfg.Duration > time.Hour:
		return nil, errors.New("-duration must be in (0, 1h]")
	case cfg.Warmup <= 0 || cfg.Warmup > time.Minute:
		return nil, errors.New("-warmup must be in (0, 1m]")
	case cfg.Timeout <= 0 || cfg.Timeout > 10*time.Minute:
		return nil, errors.New("-timeout must be in (0, 10m]")
	}
	return cfg, nil
}

func splitURLs(s string) ([]string, error) {
	var out []string
	for _, u := range strings.Split(s, ",") {
		if u = strings.TrimSpace(u); u == "" {
			continue
		}
		if _, err := wsURL(u); err != nil {
			return nil, err
		}
		out = append(out, strings.TrimRight(u, "/"))
	}
	if len(out) == 0 {
		return nil, errors.New("-url: no URL")
	}
	return out, nil
}

func splitFloats(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || v <= 0 || v > 1e6 {
			return nil, fmt.Errorf("bad rate %q", f)
		}
		out = append(out, v)
	}
	return out, nil
}

func splitInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		v, err := strconv.Atoi(f)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("bad pid %q", f)
		}
		out = append(out, v)
	}
	return out, nil
}
