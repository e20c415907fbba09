package faults

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/globalchat/globalchat/internal/testenv"
)

// TestDrain is the graceful drain of issue 17: two instances behind
// nginx, steady traffic, and one instance SIGTERMed in the middle. Its
// clients must be closed spread over DRAIN_WINDOW (no more than 1/window
// of them a second), reconnect to the other instance and recover there,
// and nothing acked may be lost or missed: the judge of the fault suite
// checks every ack and delivery against MySQL.
func TestDrain(t *testing.T) {
	testenv.LoadLock(t)
	const drainWindow = 4 * time.Second
	const receivers = 40
	c := newClusterOf(t, testenv.MariaDB(t), "drain", 2, false, "DRAIN_WINDOW="+drainWindow.String())
	d := startDriver(t, c.nginx.URL(), c.logDir, traffic{rate: baseRate, send: 16 * time.Second, quiet: 8 * time.Second, receivers: receivers})
	d.at(4 * time.Second)
	drained := c.instances[0]
	sigterm := time.Now()
	drained.Stop(syscall.SIGTERM)
	stopped := time.Now()
	recs := untilEnd(d.wait())
	rows := readRows(t, c.dsn)
	v := judge(judgement{recs: recs, rows: rows, outages: []window{{sigterm, stopped.Add(settle)}}, lastHeal: stopped})
	dr := drainFigures(recs, sigterm.UnixMilli(), drainWindow)
	t.Logf("drain: %s; %s; instance stopped %.1fs after SIGTERM", v, dr, stopped.Sub(sigterm).Seconds())
	for _, p := range dr.problems {
		v.fail("%s", p)
	}
	if clients := receivers + 6; dr.closed < clients/4 {
		v.fail("only %d of %d clients were on the drained instance: the drain was hardly tested", dr.closed, clients)
	}
	// The default SHUTDOWN_TIMEOUT (10 s) after the window: a drain that
	// hangs ends in a SIGKILL after 15 s (Instance.Stop), which this
	// catches too.
	if took := stopped.Sub(sigterm); took > drainWindow+10*time.Second {
		v.fail("the drained instance took %v to stop", took)
	}
	if log, err := os.ReadFile(drained.Log); err != nil || !strings.Contains(string(log), "globalchat drained") {
		v.fail("the drained instance's log does not say it drained (cut short?): %v", err)
	}
	if len(v.problems) > 0 {
		t.Errorf("drain failed:\n%s", diagnosis(v, c))
	}
}

// drainJitter is how much later than the drain's schedule a client may
// see its close, or complete its reconnect, on a loaded machine.
const drainJitter = 250 * time.Millisecond

// drained is what the clients saw of a drain.
type drained struct {
	closed        int // clients whose connection closed after the SIGTERM
	maxClosesPerS int // in any 1 s
	maxBackPerS   int // reconnects in any 1 s
	limit         int // the most a 1 s may hold
	lastBack      time.Duration
	// unanswered: sends after the SIGTERM that got no ack (the sender
	// tries again): those written in the instant between the server's
	// last read and the close reaching the client.
	unanswered int
	// refused: connect errors after the SIGTERM. nginx passes the
	// draining instance's 503 to the other instance (proxy_next_upstream
	// http_503): no client should see one.
	refused  int
	problems []string
}

func (d drained) String() string {
	return fmt.Sprintf("%d clients drained, at most %d closed and %d back in any second (limit %d), all back %.1fs after SIGTERM, %d sends unanswered, %d connect errors",
		d.closed, d.maxClosesPerS, d.maxBackPerS, d.limit, d.lastBack.Seconds(), d.unanswered, d.refused)
}

// drainFigures checks the clients' side of a drain that began at from:
// each client closed came back (recovered: the judge fails any reconnect
// that did not), told "transport close" (a Socket.IO disconnect would have
// stopped it), without a connect error on the way, and closes and
// reconnects kept to the window's pace. The drain closes the i-th of n
// connections no sooner than i*window/n after it began (the engine's own
// test checks that schedule exactly), so any second holds about
// n/window of them. The clients see each close, and complete each
// reconnect, a little later, by how late node's event loop and the other
// instance's handshake run on a loaded machine: the limit is what the
// schedule puts in 1.25 s, rounded up, plus one for where the second
// starts. A drain that closed everything at once puts all n in a second.
func drainFigures(recs []record, from int64, window time.Duration) drained {
	var d drained
	var closes, backs []int64
	away := map[string]int64{}
	for _, r := range recs {
		if r.TS < from {
			continue
		}
		switch r.Kind {
		case "ack":
			if r.Timeout {
				d.unanswered++
			}
		case "cerr":
			d.refused++
			d.problems = append(d.problems, fmt.Sprintf("%s could not connect at %s: %s", r.Client, clock(r.TS), r.Err))
		case "disc":
			if _, ok := away[r.Client]; ok {
				d.problems = append(d.problems, fmt.Sprintf("%s dropped twice during the drain", r.Client))
			}
			away[r.Client] = r.TS
			closes = append(closes, r.TS)
			if r.Why != "transport close" {
				d.problems = append(d.problems, fmt.Sprintf("%s disconnected with %q, not a transport close", r.Client, r.Why))
			}
		case "conn":
			if _, ok := away[r.Client]; ok && r.N > 1 {
				backs = append(backs, r.TS)
				d.lastBack = max(d.lastBack, time.Duration(r.TS-from)*time.Millisecond)
				delete(away, r.Client)
			}
		}
	}
	d.closed = len(closes)
	for c, at := range away {
		d.problems = append(d.problems, fmt.Sprintf("%s never came back after its close at %s", c, clock(at)))
	}
	d.limit = int((int64(d.closed)*int64(drainJitter+time.Second)+int64(window)-1)/int64(window)) + 1
	d.maxClosesPerS, d.maxBackPerS = maxInASecond(closes), maxInASecond(backs)
	if d.maxClosesPerS > d.limit || d.maxBackPerS > d.limit {
		d.problems = append(d.problems, fmt.Sprintf("%d closes and %d reconnects in one second, more than %d of %d clients over a %v window",
			d.maxClosesPerS, d.maxBackPerS, d.limit, d.closed, window))
	}
	return d
}

// maxInASecond returns the most of ts (Unix ms) that one second holds.
func maxInASecond(ts []int64) int {
	ts = slices.Sorted(slices.Values(ts))
	most := 0
	for i, j := 0, 0; j < len(ts); j++ {
		for ts[j]-ts[i] >= 1000 {
			i++
		}
		most = max(most, j-i+1)
	}
	return most
}
