package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/globalchat/globalchat/internal/testenv"
)

// TestDependencyMistakesStopTheStart: a setting that is wrong is not an
// outage to wait out: the start stops, naming the setting, exit code 1.
func TestDependencyMistakesStopTheStart(t *testing.T) {
	redis := testenv.Redis(t)
	db := testenv.MariaDB(t)
	dsn := db.DSN("mistakes")
	locked := testenv.Redis(t)
	c := goredis.NewClient(&goredis.Options{Addr: locked.Addr})
	if err := c.ConfigSet(context.Background(), "requirepass", "right").Err(); err != nil {
		t.Fatal(err)
	}
	c.Close()
	for _, tc := range []struct {
		name, setting string
		env           []string
	}{
		{"no password", "REDIS_URL", []string{"REDIS_URL=redis://" + locked.Addr + "/0", "MYSQL_DSN=" + dsn}},
		{"wrong password", "REDIS_URL", []string{"REDIS_URL=redis://:wrong@" + locked.Addr + "/0", "MYSQL_DSN=" + dsn}},
		{"bad DB index", "REDIS_URL", []string{"REDIS_URL=redis://" + redis.Addr + "/99", "MYSQL_DSN=" + dsn}},
		{"unknown database", "MYSQL_DSN", []string{"REDIS_URL=" + redis.URL(), "MYSQL_DSN=root@tcp(" + db.Addr + ")/no_such_db"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(buildBinary(t))
			cmd.Env = append(os.Environ(), append(tc.env, "PORT=0")...)
			done := make(chan struct{})
			var out []byte
			var err error
			go func() { out, err = cmd.CombinedOutput(); close(done) }()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				cmd.Process.Kill()
				t.Fatal("the server started (or hung) instead of stopping")
			}
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("exit: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), tc.setting+":") || strings.Contains(string(out), ":wrong@") {
				t.Fatalf("output does not name %s (or shows the password):\n%s", tc.setting, out)
			}
		})
	}
}

// TestStartsWithMySQLDown: with Redis, a MySQL that does not answer at
// start is waited for: the server starts, ready but degraded, and opens
// the store once it answers.
func TestStartsWithMySQLDown(t *testing.T) {
	redis := testenv.Redis(t)
	db := testenv.MariaDB(t)
	dsn := db.DSN("late")
	db.Stop()
	// The guest signing key is kept in MySQL unless set: set, so that
	// nothing needs MySQL to start.
	in := startBinary(t, "REDIS_URL="+redis.URL(), "MYSQL_DSN="+dsn, "LOG_FORMAT=json",
		"GUEST_SECRET=a-secret-shared-by-every-instance")
	body := readyz(t, in.url)
	if !strings.Contains(body, `"mode":"store away"`) || !strings.Contains(body, "degraded") {
		t.Fatalf("readyz with MySQL down at start: %s", body)
	}
	db.Restart()
	waitLog(t, in, "mysql reachable: the store is open")
}

// waitLog waits until the server has logged a line holding want, and
// returns that line.
func waitLog(t *testing.T, in *instance, want string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		for line := range strings.SplitSeq(in.logs(), "\n") {
			if strings.Contains(line, want) {
				return line
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line %s", want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func readyz(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("readyz %d: %s", resp.StatusCode, b)
	}
	return string(b)
}

// TestEvictingRedisIsAWarning: a Redis that may evict keys could drop the
// spool or the counter: the start says so (and goes on).
func TestEvictingRedisIsAWarning(t *testing.T) {
	redis := testenv.Redis(t)
	c := goredis.NewClient(&goredis.Options{Addr: redis.Addr})
	if err := c.ConfigSet(context.Background(), "maxmemory-policy", "allkeys-lru").Err(); err != nil {
		t.Fatal(err)
	}
	c.Close()
	in := startBinary(t, "REDIS_URL="+redis.URL(), "LOG_FORMAT=json")
	if l := waitLog(t, in, "redis evicts keys when full"); !strings.Contains(l, `"maxmemory-policy":"allkeys-lru"`) {
		t.Fatalf("warning: %s", l)
	}
}
