package faults

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/globalchat/globalchat/internal/testenv"
)

// traffic is how the driver sends: rate per sender, for how long, and how
// long it waits for stragglers after the last send.
type traffic struct {
	rate  int
	send  time.Duration
	quiet time.Duration
	// receivers is how many clients only listen (0: the driver's 6).
	receivers int
}

// record is one line of the driver's output (see jstest/faults.mjs).
type record struct {
	Kind     string `json:"k"`
	TS       int64  `json:"ts"` // Unix ms
	Client   string `json:"c"`
	SID      string `json:"sid"`
	UserID   string `json:"uid"` // sess: the user id the server gave
	Rec      bool   `json:"rec"` // conn: socket.recovered
	N        int    `json:"n"`   // conn: how many connects so far
	Why      string `json:"why"`
	ClientID string `json:"cm"`  // ack: clientMsgId
	Attempt  int    `json:"att"` // ack: 1 for the first try
	Sent     int64  `json:"sent"`
	OK       bool   `json:"ok"`
	Timeout  bool   `json:"timeout"`
	Code     string `json:"code"`
	Err      string `json:"err"`
	ID       string `json:"id"`
	Seq      int64  `json:"seq"`
	Off      any    `json:"off"` // del: the recovery offset, last argument
}

// driver is the running Node process.
type driver struct {
	t     *testing.T
	cmd   *exec.Cmd
	out   string
	ready time.Time
	stdio *bytes.Buffer
	lines chan string
	done  chan error
}

// startDriver runs jstest/faults.mjs against url, its record in dir, and
// waits until its receivers are connected and its senders begin.
func startDriver(t *testing.T, url, dir string, tr traffic) *driver {
	t.Helper()
	root := testenv.RepoRoot(t)
	if _, err := os.Stat(filepath.Join(root, "jstest", "node_modules", "socket.io-client")); err != nil {
		t.Fatal("socket.io-client is not installed in jstest: run `make deps`")
	}
	d := &driver{t: t, out: filepath.Join(dir, "records.jsonl"), stdio: &bytes.Buffer{},
		lines: make(chan string, 16), done: make(chan error, 1)}
	ctx, cancel := context.WithTimeout(context.Background(), tr.send+tr.quiet*2+time.Minute)
	t.Cleanup(cancel)
	d.cmd = exec.CommandContext(ctx, testenv.Binary(t, "node"), filepath.Join(root, "jstest", "faults.mjs"))
	d.cmd.Dir = filepath.Join(root, "jstest")
	d.cmd.Env = append(os.Environ(), "URL="+url, "OUT="+d.out,
		"RATE="+strconv.Itoa(tr.rate), "SEND_MS="+ms(tr.send), "QUIET_MS="+ms(tr.quiet))
	if tr.receivers > 0 {
		d.cmd.Env = append(d.cmd.Env, "RECEIVERS="+strconv.Itoa(tr.receivers))
	}
	d.cmd.Stderr = d.stdio
	stdout, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			d.lines <- sc.Text()
		}
		close(d.lines)
		d.done <- d.cmd.Wait()
	}()
	d.waitLine("READY", 30*time.Second)
	d.ready = time.Now()
	return d
}

func ms(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }

// waitLine waits for the driver to print want.
func (d *driver) waitLine(want string, limit time.Duration) {
	d.t.Helper()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for {
		select {
		case l, ok := <-d.lines:
			if !ok {
				d.t.Fatalf("driver ended before %s: %v\n%s", want, <-d.done, d.stdio)
			}
			if l == want {
				return
			}
		case <-timer.C:
			d.t.Fatalf("driver: no %s within %v\n%s", want, limit, d.stdio)
		}
	}
}

// at sleeps until offset after the driver became ready.
func (d *driver) at(offset time.Duration) {
	time.Sleep(time.Until(d.ready.Add(offset)))
}

// wait waits for the driver's end and returns its records.
func (d *driver) wait() []record {
	d.t.Helper()
	for range d.lines {
	}
	if err := <-d.done; err != nil {
		d.t.Fatalf("driver: %v\n%s", err, d.stdio)
	}
	b, err := os.ReadFile(d.out)
	if err != nil {
		d.t.Fatal(err)
	}
	var recs []record
	for i, line := range bytes.Split(b, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var r record
		if err := json.Unmarshal(line, &r); err != nil {
			d.t.Fatalf("driver record %d: %v: %s", i+1, err, line)
		}
		recs = append(recs, r)
	}
	if len(recs) == 0 {
		d.t.Fatalf("driver wrote no records\n%s", d.stdio)
	}
	return recs
}
