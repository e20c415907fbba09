package scripts

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/google/uuid"
	goredis "github.com/redis/go-redis/v9"

	"github.com/globalchat/globalchat"
	"github.com/globalchat/globalchat/internal/testenv"
	"github.com/globalchat/globalchat/mysql"
	"github.com/globalchat/globalchat/redis"
)

const (
	redisPassword = "backup-test-password"
	backupDB      = "backup"
	stored        = 25 // messages in MySQL at the backup
	spooled       = 5  // messages acked from the spool, not in MySQL yet
)

// TestBackupRestore backs up a real MariaDB and a real Redis (started
// with deploy/redis.conf) with scripts/backup.sh, wipes both (the
// database dropped; Redis stopped and its folder emptied), restores them
// with scripts/restore.sh, and finds every message through the server's
// API: those MySQL held, and those only Redis's spool held (acknowledged
// while MySQL was away), which the restored spool hands to the store. The
// restored counter goes on after the last seq: none is handed out twice.
func TestBackupRestore(t *testing.T) {
	testenv.LoadLock(t)
	db := testenv.MariaDB(t)
	dsn := db.DSN(backupDB)
	rs := startRedis(t)
	want := writeMessages(t, dsn, rs.url())

	backup := runScript(t, "backup.sh", []string{t.TempDir()}, rs.env(db.Addr, "root")...)
	for _, f := range []string{"mysql.sql.gz", "redis.rdb", "SHA256SUMS"} {
		if st, err := os.Stat(filepath.Join(backup, f)); err != nil || st.Size() == 0 {
			t.Fatalf("backup %s: %v", f, err)
		}
	}

	// The wipe: nothing of either is left.
	exec1(t, dsn, "DROP DATABASE "+backupDB)
	rs.stop()
	if err := os.RemoveAll(rs.dir); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(rs.dir, 0o700)

	runScript(t, "restore.sh", []string{backup}, append(rs.env(db.Addr, "root"), "REDIS_DIR="+rs.dir)...)
	rs.start()
	c := openRedis(t, rs.url())
	if seq, err := c.Get(ctx(t), "global-chat:seq").Int64(); err != nil || seq != int64(stored+spooled) {
		t.Fatalf("restored counter: %d %v, want %d", seq, err, stored+spooled)
	}
	if n, err := c.ZCard(ctx(t), "global-chat:spool").Result(); err != nil || n != spooled {
		t.Fatalf("restored spool: %d messages %v, want %d", n, err, spooled)
	}

	// The server on the restored state: every message, with its seq.
	url := startServer(t, dsn, rs.url())
	var got []globalchat.Message
	deadline := time.Now().Add(30 * time.Second)
	for {
		got = history(t, url)
		if len(got) == len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(got) != len(want) {
		t.Fatalf("after the restore the server has %d messages, want %d: %v", len(got), len(want), got)
	}
	for i, m := range want {
		if got[i].ID != m.ID || got[i].Seq != m.Seq || got[i].Content != m.Content {
			t.Errorf("message %d: got %s seq %d %q, want %s seq %d %q", i, got[i].ID, got[i].Seq, got[i].Content, m.ID, m.Seq, m.Content)
		}
	}
}

// writeMessages publishes stored+spooled messages as the chat does (the
// Redis bus orders them and spools them), and stores the first ones in
// MySQL (taking them out of the spool); the rest stay in the spool, as
// when MySQL is away. It returns them in seq order.
func writeMessages(t *testing.T, dsn, redisURL string) []globalchat.Message {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := mysql.Open(ctx(t), dsn, log)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	bus := redis.NewBus(openRedis(t, redisURL), redis.BusOptions{Logger: log})
	defer bus.Close()
	var out []globalchat.Message
	for i := range stored + spooled {
		m, _, err := bus.Publish(ctx(t), globalchat.Message{
			ID: uuid.Must(uuid.NewV7()).String(), UserID: "guest:backup", Username: "backup",
			Content: fmt.Sprintf("message %d", i+1), CreatedAt: time.Now().UTC().Truncate(time.Millisecond),
		})
		if err != nil {
			t.Fatal(err)
		}
		if i < stored {
			if err := store.Save(ctx(t), m); err != nil {
				t.Fatal(err)
			}
			bus.Release(m.Seq)
		}
		out = append(out, m)
	}
	return out
}

// redisServer is a redis-server on deploy/redis.conf as shipped, but for
// its port, folder and password; it can stop and start again on its
// folder.
type redisServer struct {
	t    *testing.T
	dir  string
	port int
	cmd  *exec.Cmd
}

func startRedis(t *testing.T) *redisServer {
	r := &redisServer{t: t, dir: t.TempDir(), port: testenv.FreePort(t)}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *redisServer) start() {
	r.t.Helper()
	conf := filepath.Join(testenv.RepoRoot(r.t), "deploy", "redis.conf")
	r.cmd = exec.Command(testenv.Binary(r.t, "redis-server"), conf, "--port", strconv.Itoa(r.port),
		"--dir", r.dir, "--requirepass", redisPassword, "--daemonize", "no")
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	testenv.WaitTCP(r.t, testenv.Addr(r.port), 10*time.Second)
}

// stop shuts Redis down as a service manager does (SIGTERM: it writes its
// files and exits).
func (r *redisServer) stop() {
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Signal(syscall.SIGTERM)
	r.cmd.Wait()
	r.cmd = nil
}

func (r *redisServer) url() string {
	return fmt.Sprintf("redis://:%s@%s/0", redisPassword, testenv.Addr(r.port))
}

// env is the scripts' settings for this Redis and the MariaDB at addr.
func (r *redisServer) env(mysqlAddr, user string) []string {
	host, port, _ := strings.Cut(mysqlAddr, ":")
	return []string{"MYSQL_HOST=" + host, "MYSQL_PORT=" + port, "MYSQL_USER=" + user, "MYSQL_DATABASE=" + backupDB,
		"REDIS_HOST=127.0.0.1", "REDIS_PORT=" + strconv.Itoa(r.port), "REDISCLI_AUTH=" + redisPassword}
}

// runScript runs a script of this folder and returns the last line it
// printed on stdout.
func runScript(t *testing.T, name string, args []string, env ...string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(testenv.RepoRoot(t), "scripts", name), args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	t.Logf("%s:\n%s%s", name, stderr.String(), out)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1]
}

// startServer runs the built server on the store and Redis, and returns
// its URL.
func startServer(t *testing.T, dsn, redisURL string) string {
	t.Helper()
	port := testenv.FreePort(t)
	cmd := exec.Command(testenv.Build(t, "./cmd/globalchat"))
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port), "HOST=127.0.0.1", "MYSQL_DSN="+dsn,
		"REDIS_URL="+redisURL, "GUEST_SECRET=backup-test-guest-secret", "LOG_FORMAT=text")
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	testenv.WaitTCP(t, testenv.Addr(port), 20*time.Second)
	return "http://" + testenv.Addr(port)
}

// history reads the newest 100 messages through GET /api/messages.
func history(t *testing.T, url string) []globalchat.Message {
	t.Helper()
	res, err := http.Get(url + "/api/messages?limit=100")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		Messages []globalchat.Message `json:"messages"`
	}
	if res.StatusCode != http.StatusOK || json.NewDecoder(res.Body).Decode(&body) != nil {
		t.Fatalf("GET /api/messages: %d", res.StatusCode)
	}
	return body.Messages
}

func openRedis(t *testing.T, url string) *goredis.Client {
	t.Helper()
	c, err := redis.Open(ctx(t), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func exec1(t *testing.T, dsn, stmt string) {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx(t), stmt); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

// ctx is a context for one call, ended with the test.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}
