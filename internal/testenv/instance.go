package testenv

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Instance is one process of a server binary (cmd/globalchat) started
// for a test, which can be stopped and started again on its port, as a
// crash or a redeploy does; its output goes to one log file across runs.
type Instance struct {
	ID   string   // its name in the log and in errors
	Bin  string   // the binary
	Port int      // where its /healthz answers
	Env  []string // added to the test's environment
	Log  string   // the log file

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// Start runs the binary and waits until /healthz answers (20 s at most).
func (in *Instance) Start() error {
	f, err := os.OpenFile(in.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(f, "=== %s start %s\n", in.ID, time.Now().UTC().Format(time.RFC3339Nano))
	cmd := exec.Command(in.Bin)
	cmd.Env = append(os.Environ(), in.Env...)
	cmd.Stdout, cmd.Stderr = f, f
	// A test binary that dies must not leave a server running.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); f.Close(); close(done) }()
	in.mu.Lock()
	in.cmd, in.done = cmd, done
	in.mu.Unlock()
	return in.waitHealthy(done, 20*time.Second)
}

func (in *Instance) waitHealthy(exited <-chan struct{}, d time.Duration) error {
	url := fmt.Sprintf("http://%s/healthz", Addr(in.Port))
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if res, err := client.Get(url); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("instance %s exited at start:\n%s", in.ID, Tail(in.Log, 30))
		case <-time.After(50 * time.Millisecond):
		}
	}
	in.Stop(syscall.SIGKILL)
	return fmt.Errorf("instance %s: no /healthz within %v:\n%s", in.ID, d, Tail(in.Log, 30))
}

// Stop sends sig and waits for the exit (a SIGTERM gets 15 s, then a
// SIGKILL); it does nothing when the instance is not running.
func (in *Instance) Stop(sig syscall.Signal) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.cmd == nil {
		return
	}
	_ = in.cmd.Process.Signal(sig)
	select {
	case <-in.done:
	case <-time.After(15 * time.Second):
		_ = in.cmd.Process.Signal(syscall.SIGKILL)
		<-in.done
	}
	in.cmd = nil
}

// Tail returns the last n lines of a file, leaving out those that hold
// one of skip.
func Tail(path string, n int, skip ...string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if !containsAny(l, skip) {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func containsAny(s string, words []string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}
