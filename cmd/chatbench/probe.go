package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

// The storm's probe runs in a process of its own: it stands for a user on
// another machine, and in the storm's own process its frames would wait
// in the run queue behind the thousands of connections being read there.
// Measured on 2 cores: the same probe messages arrived 60-170 ms after
// being sent in-process, 13-70 ms (p99) in a process of their own.

// probeEnv marks a chatbench process started as the probe (the test
// binary too starts itself this way, see TestMain).
const probeEnv = "CHATBENCH_PROBE"

// probeReport is what the probe process prints when it is done.
type probeReport struct {
	Sent  uint64  `json:"sent"`
	Got   uint64  `json:"got"`
	P99Ms float64 `json:"p99Ms"`
	MaxMs float64 `json:"maxMs"`
}

// runProbe is the probe process: a receiver and a sender connect, "ready"
// is printed, then the sender sends every cfg.ProbeEvery until stop
// reaches EOF; after waiting (bounded) for late messages the report is
// printed as JSON.
func (b *bench) runProbe(ctx context.Context, stop io.Reader, out io.Writer) error {
	var hist Histogram
	var sent, got atomic.Uint64
	recv := func(_ *peer, pkt []byte) {
		if isEvent(pkt, evMessage) {
			if _, at, ok := parseContent(pkt, b.run); ok {
				hist.Record(time.Since(at))
				got.Add(1)
			}
		}
	}
	if _, err := b.connect(ctx, "probe-r", 0, recv); err != nil {
		return fmt.Errorf("probe receiver: %w", err)
	}
	s, err := b.connect(ctx, "probe-s", 1, nil)
	if err != nil {
		return fmt.Errorf("probe sender: %w", err)
	}
	fmt.Fprintln(out, "ready")

	stopped := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, stop)
		close(stopped)
	}()
	t := time.NewTicker(b.cfg.ProbeEvery)
	defer t.Stop()
	for n := 0; ; n++ {
		select {
		case <-stopped:
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			if _, err := s.EmitAck(evMessage, messageArg{Content: content(b.run, 0, time.Now(), fmt.Sprint("probe-", n))}); err == nil {
				sent.Add(1)
			}
			continue
		}
		break
	}
	// Late messages are late, not lost: wait (bounded) for them.
	for wait := time.Now(); got.Load() < sent.Load() && time.Since(wait) < 10*time.Second; {
		_ = sleepCtx(ctx, 50*time.Millisecond)
	}
	return json.NewEncoder(out).Encode(probeReport{
		Sent: sent.Load(), Got: got.Load(),
		P99Ms: ms(hist.Quantile(0.99)), MaxMs: ms(hist.Max()),
	})
}

// probeProcess is a running probe, started by startProbe.
type probeProcess struct {
	cmd   *exec.Cmd
	stdin io.Closer
	out   *bufio.Reader
}

// startProbe starts the probe process against the first URL and waits
// until its pair is connected.
func startProbe(ctx context.Context, cfg *config) (*probeProcess, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, exe, "-scenario", "probe", "-url", cfg.URLs[0],
		"-probe-every", cfg.ProbeEvery.String(), "-timeout", cfg.Timeout.String(),
		"-src-ips", strconv.Itoa(cfg.SrcIPs))
	cmd.Env = append(os.Environ(), probeEnv+"=1")
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &probeProcess{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}
	if line, err := p.out.ReadString('\n'); err != nil || line != "ready\n" {
		stdin.Close()
		return nil, errors.Join(fmt.Errorf("probe process did not start: %q %v", line, err), cmd.Wait())
	}
	return p, nil
}

// stop tells the probe to stop sending and returns its report.
func (p *probeProcess) stop() (probeReport, error) {
	p.stdin.Close()
	var rep probeReport
	err := json.NewDecoder(p.out).Decode(&rep)
	return rep, errors.Join(err, p.cmd.Wait())
}
