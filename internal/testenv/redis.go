package testenv

import (
	"bufio"
	"bytes"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RedisServer is a redis-server child process started for one test, with
// no persistence: a Restart starts it empty, like a crashed cache.
type RedisServer struct {
	// Addr is the server's host:port on 127.0.0.1.
	Addr string

	t    testing.TB
	bin  string
	port int
	dir  string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	out  *lockedBuffer
}

// Redis starts redis-server on a free loopback port in a temporary folder,
// waits until it answers PING and stops it when the test ends.
func Redis(t testing.TB) *RedisServer {
	t.Helper()
	r := RedisDown(t)
	r.start()
	return r
}

// RedisDown reserves a port for a redis-server that is not running yet, for
// a test of clients that start without Redis: Restart starts it.
func RedisDown(t testing.TB) *RedisServer {
	t.Helper()
	r := &RedisServer{
		t:    t,
		bin:  Binary(t, "redis-server"),
		port: FreePort(t),
		dir:  t.TempDir(),
		out:  &lockedBuffer{},
	}
	r.Addr = Addr(r.port)
	t.Cleanup(r.stop)
	return r
}

// URL returns the server's redis:// URL, database 0.
func (r *RedisServer) URL() string { return "redis://" + r.Addr + "/0" }

// Kill stops the server with SIGKILL, as a crash would, and waits until
// it has exited.
func (r *RedisServer) Kill() {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.killLocked()
}

// Pause freezes the server with SIGSTOP, as a hung host would: its port
// still accepts connections, nothing answers. Resume undoes it.
func (r *RedisServer) Pause() { r.signal(syscall.SIGSTOP) }

// Resume lets a paused server go on (SIGCONT).
func (r *RedisServer) Resume() { r.signal(syscall.SIGCONT) }

func (r *RedisServer) signal(sig syscall.Signal) {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		r.t.Fatalf("testenv: redis-server is not running")
	}
	if err := r.cmd.Process.Signal(sig); err != nil {
		r.t.Fatalf("testenv: redis-server: %v", err)
	}
}

// FlushAll empties every database of the running server, as an operator's
// mistake or a failover to an empty replica would.
func (r *RedisServer) FlushAll() {
	r.t.Helper()
	if err := command(r.Addr, "FLUSHALL", "+OK"); err != nil {
		r.t.Fatalf("testenv: redis FLUSHALL: %v", err)
	}
}

// Restart starts the server again on the same port (killing it first if it
// still runs). It comes back empty: the server keeps nothing on disk.
func (r *RedisServer) Restart() {
	r.t.Helper()
	r.mu.Lock()
	r.killLocked()
	r.mu.Unlock()
	r.start()
}

func (r *RedisServer) start() {
	r.t.Helper()
	cmd := exec.Command(r.bin,
		"--port", strconv.Itoa(r.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", r.dir,
		"--daemonize", "no",
	)
	cmd.Stdout = r.out
	cmd.Stderr = r.out
	// A test binary that dies must not leave a server running.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("testenv: start redis-server: %v", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	r.mu.Lock()
	r.cmd, r.done = cmd, done
	r.mu.Unlock()
	r.waitPing(10 * time.Second)
}

// waitPing waits until the server answers PING with PONG.
func (r *RedisServer) waitPing(d time.Duration) {
	r.t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := ping(r.Addr)
		if err == nil {
			return
		}
		select {
		case <-r.done:
			r.t.Fatalf("testenv: redis-server exited at start:\n%s", r.out.String())
		default:
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("testenv: redis-server on %s did not answer PING within %v: %v\n%s", r.Addr, d, err, r.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ping(addr string) error { return command(addr, "PING", "+PONG") }

// command sends one inline command and expects the one-line reply want.
func command(addr, cmd, want string) error {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte(cmd + "\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != want+"\r\n" {
		return &net.AddrError{Err: "unexpected reply " + strconv.Quote(line), Addr: addr}
	}
	return nil
}

func (r *RedisServer) killLocked() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGKILL)
	<-r.done
	r.cmd = nil
}

// stop ends the server politely, then by force.
func (r *RedisServer) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGCONT) // a paused server cannot stop
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
		r.cmd = nil
	case <-time.After(5 * time.Second):
		r.killLocked()
	}
}

// lockedBuffer collects the server's output for failure messages.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
