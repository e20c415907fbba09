package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/globalchat/globalchat/internal/testenv"
)

// TestRedeploy runs the redeploy scenario with 200 receivers on two
// instances of the real binary behind a real nginx (deploy/nginx.conf:
// ip_hash, max_fails=0, a 503 passed to the next instance), on Redis and
// MariaDB, each instance restarted in turn with the drain (DRAIN_WINDOW's
// default, 3 s): every client cut must come back recovered, and every
// acked message must reach every receiver exactly once.
func TestRedeploy(t *testing.T) {
	testenv.LoadLock(t) // not beside the fault suite
	nginx, restart := startCluster(t, 2)
	cfg := tiny(nginx.URL(), 0, "redeploy")
	// Each receiver on an address of its own, 200 /24s for ip_hash to
	// spread; a message every 250 ms; after the last restart, 2 s more.
	cfg.PIDs, cfg.Clients, cfg.SrcIPs, cfg.Concurrent = nil, 200, 200, 50
	cfg.Rates, cfg.Instances, cfg.ReconnectDelay = []float64{4}, 2, time.Second
	cfg.Settle, cfg.Drain, cfg.restarter = 2*time.Second, 2*time.Second, restart
	res, err := runScenario(t.Context(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	res.print(&buf)
	t.Log(buf.String())
	if lost, dup, once := metric(t, res, "lost"), metric(t, res, "duplicates"), metric(t, res, "exactly once"); lost != 0 || dup != 0 || once != 1 {
		t.Errorf("lost %v, duplicates %v, exactly once %v", lost, dup, once)
	}
	if acked, never := metric(t, res, "acked"), metric(t, res, "sends never acked"); acked < 30 || never != 0 {
		t.Errorf("%v messages acked, %v never", acked, never)
	}
	for _, k := range []string{"restart 1: ", "restart 2: "} {
		// ip_hash puts about half the clients on each instance; the
		// second restart cuts those the first moved to it too.
		if cut := metric(t, res, k+"clients cut"); cut < 50 {
			t.Errorf("%sonly %v clients cut: the drain was hardly tested", k, cut)
		}
		if rec, away := metric(t, res, k+"recovered"), metric(t, res, k+"not back"); rec != 1 || away != 0 {
			t.Errorf("%srecovered %v, %v not back", k, rec, away)
		}
	}
	if early := metric(t, res, "connections ended before the first restart"); early != 0 {
		t.Errorf("%v connections ended before any restart", early)
	}
}

// startCluster starts Redis, MariaDB, n instances of cmd/globalchat
// (behind a proxy: TRUSTED_PROXIES, so that the per-address bounds count
// each client's address) and nginx in front of them. restart stops
// instance i with SIGTERM, waits for its exit and starts it again.
func startCluster(t *testing.T, n int) (*testenv.NginxServer, func(context.Context, int) error) {
	t.Helper()
	bin := testenv.Build(t, "./cmd/globalchat")
	redis, db := testenv.Redis(t), testenv.MariaDB(t)
	env := []string{"HOST=127.0.0.1", "REDIS_URL=" + redis.URL(), "MYSQL_DSN=" + db.DSN("redeploy"),
		"RATE_LIMIT_PER_MINUTE=10000", "TRUSTED_PROXIES=127.0.0.1", "LOG_LEVEL=warn"}
	logs := t.TempDir()
	instances := make([]*testenv.Instance, n)
	upstreams := make([]string, n)
	for i := range instances {
		in := &testenv.Instance{ID: fmt.Sprintf("i%d", i), Bin: bin, Port: testenv.FreePort(t)}
		in.Log = filepath.Join(logs, in.ID+".log")
		in.Env = append([]string{"PORT=" + strconv.Itoa(in.Port), "INSTANCE_ID=" + in.ID}, env...)
		if err := in.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			in.Stop(syscall.SIGTERM)
			if t.Failed() {
				t.Logf("instance %s log:\n%s", in.ID, testenv.Tail(in.Log, 50))
			}
		})
		instances[i], upstreams[i] = in, testenv.Addr(in.Port)
	}
	restart := func(_ context.Context, i int) error {
		instances[i].Stop(syscall.SIGTERM)
		return instances[i].Start()
	}
	return testenv.Nginx(t, upstreams), restart
}
