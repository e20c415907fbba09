package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/metrics"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/globalchat/globalchat/internal/testenv"
)

// TestMain lets the storm start this binary as its probe process.
func TestMain(m *testing.M) {
	if os.Getenv(probeEnv) != "" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// startServer builds cmd/globalchat and runs it on embedded defaults (SQLite
// in a temporary folder) with high message rate limits, per user and per
// address (the scenarios send far faster than people do, to load the
// server); the other per-address bounds are the shipped ones, the clients
// being spread over addresses; env adds to its environment. It returns
// its URL and pid.
func startServer(t *testing.T, env ...string) (string, int) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "globalchat")
	if out, err := exec.Command("go", "build", "-o", bin, "../globalchat").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	port := testenv.FreePort(t)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port), "HOST=127.0.0.1",
		"SQLITE_PATH="+filepath.Join(dir, "chat.db"), "RATE_LIMIT_PER_MINUTE=10000",
		"RATE_LIMIT_PER_ADDRESS_PER_MINUTE=10000", "LOG_LEVEL=warn")
	cmd.Env = append(cmd.Env, env...)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	testenv.WaitTCP(t, testenv.Addr(port), 20*time.Second)
	return "http://" + testenv.Addr(port), cmd.Process.Pid
}

// tiny is a configuration small enough for make test.
func tiny(url string, pid int, scenario string) *config {
	return &config{
		Scenario: scenario, Target: "project", URLs: []string{url}, PIDs: []int{pid},
		Clients: 20, Senders: 2, Rates: []float64{20}, Duration: time.Second,
		P99Max: time.Second, MinRatio: 1, SrcIPs: 20, Concurrent: 10, UserLimit: 10000,
		Timeout: 10 * time.Second, Settle: 100 * time.Millisecond, Warmup: 300 * time.Millisecond,
		Drain: time.Second, ProbeEvery: 100 * time.Millisecond,
	}
}

func metric(t *testing.T, r *Result, name string) float64 {
	t.Helper()
	for _, m := range r.Metrics {
		if m.Name == name {
			return m.Value
		}
	}
	t.Fatalf("%s: no metric %q in %+v", r.Scenario, name, r.Metrics)
	return 0
}

// TestScenarios runs every scenario tiny against the real server and
// checks that each measured what it should, then builds the report.
func TestScenarios(t *testing.T) {
	testenv.LoadLock(t) // not beside the fault suite
	url, pid := startServer(t)
	log := slog.New(slog.DiscardHandler)
	out := t.TempDir()
	run := func(cfg *config) *Result {
		t.Helper()
		res, err := runScenario(t.Context(), cfg, log)
		if err != nil {
			t.Fatalf("%s: %v", cfg.Scenario, err)
		}
		var buf bytes.Buffer
		res.print(&buf)
		t.Log(buf.String())
		if err := res.save(filepath.Join(out, cfg.Scenario+"-"+cfg.Name+".json")); err != nil {
			t.Fatal(err)
		}
		return res
	}

	t.Run("fanout", func(t *testing.T) {
		r := run(tiny(url, pid, "fanout"))
		if got := metric(t, r, "delivery ratio"); got != 1 {
			t.Errorf("delivery ratio %v, want 1", got)
		}
		// 20 msg/s for 1 s to 20 receivers.
		if s := r.Steps[0]; s.Sent < 15 || s.Received != s.Sent*20 || s.AcksMissing != 0 || s.P99ms <= 0 {
			t.Errorf("step %+v", s)
		}
	})
	t.Run("churn", func(t *testing.T) {
		// About 200 receivers, each on an address of its own (60 joins a
		// minute per address is not what this measures), cut every 3 s
		// for 0.5 s while 40 messages go out at 4 a second.
		cfg := tiny(url, pid, "churn")
		cfg.Clients, cfg.SrcIPs, cfg.Concurrent = 200, 200, 50
		cfg.Rates, cfg.Messages, cfg.CutEvery, cfg.Away = []float64{4}, 40, 3*time.Second, 500*time.Millisecond
		r := run(cfg)
		// Every receiver holds an offset from its first chat:history on,
		// so every reconnect recovers: nothing may be lost or come twice.
		if lost, dup := metric(t, r, "lost"), metric(t, r, "duplicates"); lost != 0 || dup != 0 {
			t.Errorf("lost %v, duplicates %v", lost, dup)
		}
		if got := metric(t, r, "exactly once"); got != 1 {
			t.Errorf("exactly once %v, want 1", got)
		}
		if blind := metric(t, r, "reconnects without an offset"); blind != 0 {
			t.Errorf("%v reconnects without an offset", blind)
		}
		if acked := metric(t, r, "acked"); acked != 40 {
			t.Errorf("acked %v of 40", acked)
		}
		// Each receiver is cut at least twice in the 10 s of sending.
		if n, rec := metric(t, r, "reconnects"), metric(t, r, "recovered"); n < 400 || rec != 1 {
			t.Errorf("%v reconnects, %v of them recovered", n, rec)
		}
		if metric(t, r, "replays") == 0 || metric(t, r, "replay p99") <= 0 {
			t.Error("no replay measured")
		}
		// Where a reconnect's time goes: the upgrade comes before the
		// CONNECT reply.
		up, in := metric(t, r, "reconnect upgraded p99"), metric(t, r, "reconnect connected p99")
		if up <= 0 || in < up {
			t.Errorf("reconnect upgraded p99 %v ms, connected p99 %v ms", up, in)
		}
	})
	t.Run("fanout steps", func(t *testing.T) {
		cfg := tiny(url, pid, "fanout")
		cfg.Name, cfg.Rates = "steps", []float64{10, 40}
		r := run(cfg)
		if len(r.Steps) != 2 || r.Steps[1].Rate != 40 || !r.Steps[1].Pass {
			t.Fatalf("steps %+v", r.Steps)
		}
		if got := metric(t, r, "max deliveries/s at p99 ≤ 1s"); got < 20*30 {
			t.Errorf("max deliveries/s %v, want about 800", got)
		}
	})
	t.Run("storm", func(t *testing.T) {
		r := run(tiny(url, pid, "storm"))
		if got := metric(t, r, "clients in (history received)"); got != 20 {
			t.Errorf("clients in %v, want 20", got)
		}
		if got := metric(t, r, "clients with presence"); got != 20 {
			t.Errorf("clients with presence %v, want 20", got)
		}
		if got := metric(t, r, "probe latency max"); got <= 0 {
			t.Errorf("probe latency max %v: the probe measured nothing", got)
		}
		if got := metric(t, r, "probe messages lost"); got != 0 {
			t.Errorf("probe lost %v", got)
		}
	})
	t.Run("idle", func(t *testing.T) {
		r := run(tiny(url, pid, "idle"))
		if got := metric(t, r, "connections held"); got != 20 {
			t.Errorf("connections held %v", got)
		}
		if got := metric(t, r, "server RSS with all connected"); got <= 0 {
			t.Errorf("RSS %v", got)
		}
		if got := metric(t, r, "goroutines per connection"); got < 0.5 {
			t.Errorf("goroutines per connection %v: /metrics not read", got)
		}
	})
	t.Run("ingest", func(t *testing.T) {
		r := run(tiny(url, pid, "ingest"))
		if got := metric(t, r, "stored messages/s"); got < 10 {
			t.Errorf("stored messages/s %v", got)
		}
		if got := metric(t, r, "refused or failed sends") + metric(t, r, "acks timed out"); got != 0 {
			t.Errorf("%v sends failed", got)
		}
	})

	t.Run("report", func(t *testing.T) {
		// A reference result next to the project's fanout, for the ratio.
		ref := &Result{Scenario: "fanout", Target: "reference", Metrics: []Metric{{Name: "deliveries/s", Value: 10, Unit: "msg/s", Better: "higher"}}}
		if err := ref.save(filepath.Join(out, "fanout-ref.json")); err != nil {
			t.Fatal(err)
		}
		md := filepath.Join(t.TempDir(), "bench.md")
		if err := os.WriteFile(md, []byte("# Title\n\n"+mdBegin+"\nold\n"+mdEnd+"\n\nanalysis\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		var text bytes.Buffer
		if err := writeReport(out, md, &text); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(md)
		doc := string(b)
		for _, want := range []string{"| **fanout** |", "|  | deliveries/s (msg/s) ↑ | ", "| 10.0 | ", "| **storm** |", "| **ingest** |", "analysis\n", "Machine: "} {
			if !strings.Contains(doc, want) {
				t.Errorf("markdown lacks %q:\n%s", want, doc)
			}
		}
		if strings.Contains(doc, "old") {
			t.Errorf("the old table was not replaced:\n%s", doc)
		}
		if !strings.Contains(text.String(), "deliveries/s") {
			t.Errorf("text table:\n%s", text.String())
		}
		t.Log(text.String())
	})
}

// A storm client refused for now (here: more than one session not yet
// connected, MAX_UNCONNECTED=1) tries again, as the official client
// does, and gets in; the refusals are counted.
func TestStormTriesRefusedAgain(t *testing.T) {
	testenv.LoadLock(t)
	url, pid := startServer(t, "MAX_UNCONNECTED=1")
	cfg := tiny(url, pid, "storm")
	cfg.Clients, cfg.SrcIPs = 50, 50
	r, err := runScenario(t.Context(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if got := metric(t, r, "clients in (history received)"); got != 50 {
		t.Errorf("clients in %v, want 50", got)
	}
	if got := metric(t, r, "handshakes refused for now (tried again)"); got == 0 {
		t.Error("no handshake refused: the test did not storm")
	}
}

func TestHistogram(t *testing.T) {
	var h Histogram
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Millisecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.99, 990 * time.Millisecond}, {1, time.Second}} {
		got := h.Quantile(c.q)
		if d := got - c.want; d < 0 || d > c.want/60 {
			t.Errorf("q%v = %v, want %v within 1/64 above", c.q, got, c.want)
		}
	}
	if h.Max() != time.Second || h.Count() != 1000 {
		t.Errorf("max %v count %d", h.Max(), h.Count())
	}
	var empty Histogram
	if empty.Quantile(0.99) != 0 {
		t.Error("empty histogram")
	}
	for v := uint64(0); v < 1<<20; v = v*5/4 + 1 {
		if i := bucket(v); bucketTop(i) < v || (i > 0 && bucketTop(i-1) >= v) {
			t.Fatalf("value %d in bucket %d (top %d)", v, i, bucketTop(i))
		}
	}
}

func TestProtocolHelpers(t *testing.T) {
	sent := time.Unix(0, 1700000000123456789)
	c := content("ab12", 3, sent, "s1-7")
	pkt := []byte(`2["chat:message",{"id":"x","seq":5,"content":` + strconv.Quote(c) + `,"userId":"u"},"5"]`)
	if !isEvent(pkt, evMessage) || isEvent(pkt, evHistory) || isEvent([]byte(`2["chat:messages"]`), evMessage) {
		t.Error("isEvent")
	}
	step, at, ok := parseContent(pkt, "ab12")
	if !ok || step != 3 || !at.Equal(sent) {
		t.Errorf("parseContent = %d %v %v", step, at, ok)
	}
	if _, _, ok := parseContent(pkt, "other"); ok {
		t.Error("another run's message parsed")
	}
	id, body, ok := ackOf([]byte(`312[{"ok":true}]`))
	if !ok || id != 12 || string(body) != `[{"ok":true}]` {
		t.Errorf("ackOf = %d %q %v", id, body, ok)
	}
	if _, _, ok := ackOf([]byte(`2["x"]`)); ok {
		t.Error("ackOf on an event")
	}
	if got := string(eventPacket(7, "chat:message", messageArg{Content: "hi"})); got != `427["chat:message",{"content":"hi"}]` {
		t.Errorf("eventPacket = %s", got)
	}
	if _, err := wsURL("http://10.0.0.1:80"); err == nil {
		t.Error("a non-loopback URL was accepted")
	}
}

func TestSplice(t *testing.T) {
	if got := splice("doc", "T\n"); got != "doc\n\n"+mdBegin+"\nT\n"+mdEnd+"\n" {
		t.Errorf("append: %q", got)
	}
	doc := fmt.Sprintf("a\n%s\nx\n%s\nb\n", mdBegin, mdEnd)
	if got := splice(doc, "T\n"); got != "a\n"+mdBegin+"\nT\n"+mdEnd+"\nb\n" {
		t.Errorf("replace: %q", got)
	}
}

// schedQuantile reads the waits of the interval between two readings.
func TestSchedQuantile(t *testing.T) {
	before := &metrics.Float64Histogram{Counts: []uint64{5, 0, 0}, Buckets: []float64{0, 0.001, 0.01, math.Inf(1)}}
	// Between the readings: 50 waits under 1 ms, 48 under 10 ms, 2 longer.
	after := &metrics.Float64Histogram{Counts: []uint64{55, 48, 2}, Buckets: before.Buckets}
	if got := schedQuantile(before, after, 0.5); got != time.Millisecond {
		t.Fatalf("p50 %v, want 1ms", got)
	}
	if got := schedQuantile(before, after, 0.98); got != 10*time.Millisecond {
		t.Fatalf("p98 %v, want 10ms", got)
	}
	if got := schedQuantile(before, after, 0.99); got != 10*time.Millisecond {
		t.Fatalf("p99 %v, want 10ms (the lower bound of the open last bucket)", got)
	}
	if schedLatencies() == nil {
		t.Fatal("the runtime gives no scheduling latencies")
	}
}
