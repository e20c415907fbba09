package faults

import (
	"bufio"
	"fmt"
	"os"
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
	instances []*testenv.Instance
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
		in := &testenv.Instance{
			ID:   fmt.Sprintf("i%d", i+1),
			Port: testenv.FreePort(t),
			Bin:  serverBinary(t),
		}
		in.Log = filepath.Join(c.logDir, in.ID+".log")
		in.Env = []string{
			"PORT=" + strconv.Itoa(in.Port), "HOST=127.0.0.1", "INSTANCE_ID=" + in.ID,
			"MYSQL_DSN=" + c.dsn, "REDIS_URL=" + c.redis.URL(),
			"RATE_LIMIT_PER_MINUTE=10000", "LOG_LEVEL=info", "LOG_FORMAT=text",
			// The driver's clients all come from 127.0.0.1 and together
			// send 30 messages a second and reconnect at every fault: far
			// beyond one address's shipped limits (120 messages and 60
			// connections a minute), which are not what this suite tests.
			"RATE_LIMIT_PER_ADDRESS_PER_MINUTE=10000", "JOINS_PER_ADDRESS_PER_MINUTE=10000",
		}
		in.Env = append(in.Env, env...)
		c.instances = append(c.instances, in)
		upstreams[i] = testenv.Addr(in.Port)
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
		go func() { defer wg.Done(); errs[i] = in.Start() }()
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
		fmt.Fprintf(&b, "--- %s\n%s\n", in.ID, testenv.Tail(in.Log, n, "message accepted", "chat: connected", "chat: disconnected"))
	}
	return b.String()
}

func (c *cluster) stopAll() {
	for _, in := range c.instances {
		in.Stop(syscall.SIGTERM)
	}
}

// restart starts a stopped instance again on its port, failing the test
// when it does not come up.
func (c *cluster) restart(in *testenv.Instance) {
	c.t.Helper()
	if err := in.Start(); err != nil {
		c.t.Fatal(err)
	}
}

// logs returns every instance's log lines that match one of words (all
// lines when words is empty), at most max lines per instance.
func (c *cluster) logs(max int, words ...string) string {
	var b strings.Builder
	for _, in := range c.instances {
		f, err := os.Open(in.Log)
		if err != nil {
			fmt.Fprintf(&b, "%s: %v\n", in.ID, err)
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
		fmt.Fprintf(&b, "--- %s (%d matching lines", in.ID, len(lines))
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
