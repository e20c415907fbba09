package faults

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/globalchat/globalchat/internal/testenv"
)

// cluster is one scenario's world: Redis, MariaDB, three instances of the
// built binary and nginx in front of them, round-robin.
type cluster struct {
	t         *testing.T
	redis     *testenv.RedisServer
	db        *testenv.MariaDBServer
	dsn       string
	instances []*instance
	nginx     *testenv.NginxServer
	logDir    string
	begin     time.Time // when the scenario started its servers
}

// newCluster starts everything but MariaDB, which the scenarios share
// (each has its own database, db); with redisDown the instances start while
// Redis is not running (c.redis.Restart starts it).
func newCluster(t *testing.T, mariadb *testenv.MariaDBServer, db string, redisDown bool) *cluster {
	t.Helper()
	return newClusterOf(t, mariadb, db, 3, redisDown)
}

// newClusterOf is newCluster with n instances, env added to theirs.
func newClusterOf(t *testing.T, mariadb *testenv.MariaDBServer, db string, n int, redisDown bool, env ...string) *cluster {
	t.Helper()
	c := &cluster{t: t, begin: time.Now(), db: mariadb}
	c.logDir = keptDir(t)
	if redisDown {
		c.redis = testenv.RedisDown(t)
	} else {
		c.redis = testenv.Redis(t)
	}
	c.dsn = c.db.DSN(db)
	upstreams := make([]string, n)
	for i := range n {
		in := &instance{
			id:   fmt.Sprintf("i%d", i+1),
			port: testenv.FreePort(t),
			bin:  serverBinary(t),
		}
		in.log = filepath.Join(c.logDir, in.id+".log")
		in.env = []string{
			"PORT=" + strconv.Itoa(in.port), "HOST=127.0.0.1", "INSTANCE_ID=" + in.id,
			"MYSQL_DSN=" + c.dsn, "REDIS_URL=" + c.redis.URL(),
			"RATE_LIMIT_PER_MINUTE=10000", "LOG_LEVEL=info", "LOG_FORMAT=text",
			// The driver's clients all come from 127.0.0.1 and together
			// send 30 messages a second and reconnect at every fault: far
			// beyond one address's shipped limits (120 messages and 60
			// connections a minute), which are not what this suite tests.
			"RATE_LIMIT_PER_ADDRESS_PER_MINUTE=10000", "JOINS_PER_ADDRESS_PER_MINUTE=10000",
		}
		in.env = append(in.env, env...)
		c.instances = append(c.instances, in)
		upstreams[i] = testenv.Addr(in.port)
	}
	t.Cleanup(func() {
		c.stopAll()
		if t.Failed() {
			t.Logf("instance logs (last 30 lines each, accepted messages and connections left out; all in %s):\n%s", c.logDir, c.tails(30))
		}
	})
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, in := range c.instances {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = in.start() }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	c.nginx = testenv.NginxRoundRobin(t, upstreams)
	return c
}

// serverBinary is the binary under test: GLOBALCHAT_FAULTS_BIN when set
// (to judge another build, such as a branch's), this tree's otherwise.
func serverBinary(t *testing.T) string {
	if bin := os.Getenv("GLOBALCHAT_FAULTS_BIN"); bin != "" {
		return bin
	}
	return testenv.Build(t, "./cmd/globalchat")
}

// keptDir is a folder for the instances' logs and the driver's record, removed when the test
// passes and kept for a look when it fails.
func keptDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "globalchat-faults-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			os.RemoveAll(dir)
		}
	})
	return dir
}

func (c *cluster) tails(n int) string {
	var b strings.Builder
	for _, in := range c.instances {
		fmt.Fprintf(&b, "--- %s\n%s\n", in.id, tail(in.log, n, "message accepted", "chat: connected", "chat: disconnected"))
	}
	return b.String()
}

func (c *cluster) stopAll() {
	for _, in := range c.instances {
		in.stop(syscall.SIGTERM)
	}
}

// restart starts a stopped instance again on its port, failing the test
// when it does not come up.
func (c *cluster) restart(in *instance) {
	c.t.Helper()
	if err := in.start(); err != nil {
		c.t.Fatal(err)
	}
}

// logs returns every instance's log lines that match one of words (all
// lines when words is empty), at most max lines per instance.
func (c *cluster) logs(max int, words ...string) string {
	var b strings.Builder
	for _, in := range c.instances {
		f, err := os.Open(in.log)
		if err != nil {
			fmt.Fprintf(&b, "%s: %v\n", in.id, err)
			continue
		}
		var lines []string
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if matches(sc.Text(), words) {
				lines = append(lines, sc.Text())
			}
		}
		f.Close()
		fmt.Fprintf(&b, "--- %s (%d matching lines", in.id, len(lines))
		if len(lines) > max {
			fmt.Fprintf(&b, ", first and last %d", max/2)
			lines = append(lines[:max/2:max/2], append([]string{"..."}, lines[len(lines)-max/2:]...)...)
		}
		b.WriteString(")\n")
		for _, l := range lines {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func matches(line string, words []string) bool {
	if len(words) == 0 {
		return true
	}
	for _, w := range words {
		if strings.Contains(line, w) {
			return true
		}
	}
	return false
}

// instance is one globalchat process; it can be started again on its port
// after a SIGKILL or SIGTERM. Its output goes to one log file across runs.
type instance struct {
	id   string
	port int
	bin  string
	env  []string
	log  string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// start runs the binary and waits until /healthz answers.
func (in *instance) start() error {
	f, err := os.OpenFile(in.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(f, "=== %s start %s\n", in.id, time.Now().UTC().Format(time.RFC3339Nano))
	cmd := exec.Command(in.bin)
	cmd.Env = append(os.Environ(), in.env...)
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

func (in *instance) waitHealthy(exited <-chan struct{}, d time.Duration) error {
	url := fmt.Sprintf("http://127.0.0.1:%d/healthz", in.port)
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
			return fmt.Errorf("instance %s exited at start:\n%s", in.id, tail(in.log, 30))
		case <-time.After(50 * time.Millisecond):
		}
	}
	in.stop(syscall.SIGKILL)
	return fmt.Errorf("instance %s: no /healthz within %v:\n%s", in.id, d, tail(in.log, 30))
}

// tail returns the last n lines of a file, leaving out those that hold
// one of skip.
func tail(path string, n int, skip ...string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if len(skip) == 0 || !matches(l, skip) {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// stop sends sig and waits for the exit (a SIGTERM gets 15 s, then a
// SIGKILL); it does nothing when the instance is not running.
func (in *instance) stop(sig syscall.Signal) {
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
