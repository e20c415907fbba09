package redis

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/globalchat/globalchat"
	"github.com/globalchat/globalchat/internal/testenv"
)

// TestShippedRedisConfKeepsTheSpool starts redis-server with
// deploy/redis.conf as shipped (only the port, folder and password set on
// the command line), checks the settings the guarantees rest on, and
// kills it (SIGKILL) a second after a message was spooled: restarted on
// the same append-only file, the spool and the counter are still there.
func TestShippedRedisConfKeepsTheSpool(t *testing.T) {
	conf := filepath.Join(testenv.RepoRoot(t), "deploy", "redis.conf")
	dir, port := t.TempDir(), testenv.FreePort(t)
	start := func() *exec.Cmd {
		cmd := exec.Command(testenv.Binary(t, "redis-server"), conf, "--port", strconv.Itoa(port),
			"--dir", dir, "--requirepass", "test-password", "--daemonize", "no")
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		testenv.WaitTCP(t, testenv.Addr(port), 10*time.Second)
		return cmd
	}
	url := fmt.Sprintf("redis://:test-password@%s/0", testenv.Addr(port))
	srv := start()
	c := openURL(t, url)
	for setting, want := range map[string]string{
		"appendonly": "yes", "appendfsync": "everysec", "maxmemory-policy": "noeviction", "protected-mode": "yes",
	} {
		if got := c.ConfigGet(ctxT(t), setting).Val()[setting]; got != want {
			t.Errorf("%s = %q, want %q", setting, got, want)
		}
	}
	if err := goredis.NewClient(&goredis.Options{Addr: testenv.Addr(port)}).Ping(ctxT(t)).Err(); err == nil {
		t.Error("the shipped config answers without the password")
	}
	b := NewBus(c, BusOptions{Logger: testLogger(t)})
	m, _, err := b.Publish(ctxT(t), globalchat.Message{UserID: "u", Content: "acked while MySQL is down"})
	b.Close()
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // appendfsync everysec
	srv.Process.Signal(syscall.SIGKILL)
	srv.Wait()
	start()
	c = openURL(t, url)
	b = NewBus(c, BusOptions{Logger: testLogger(t)})
	defer b.Close()
	if got := spoolSeqs(t, b); len(got) != 1 || got[0] != m.Seq {
		t.Fatalf("spool after a crash and restart: %v, want [%d]", got, m.Seq)
	}
	if seq, _ := c.Get(ctxT(t), keySeq).Int64(); seq != m.Seq {
		t.Fatalf("counter after restart %d, want %d", seq, m.Seq)
	}
}

func openURL(t *testing.T, url string) *goredis.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var c *goredis.Client
	var err error
	for ctx.Err() == nil {
		if c, err = Open(ctx, url); err == nil {
			t.Cleanup(func() { c.Close() })
			return c
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("Open: %v", err)
	return nil
}
