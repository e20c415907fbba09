package testenv

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
)

// mariadbOptions keep a throwaway server small and quick: a small buffer
// pool and redo log, no binary log, no performance schema, no durability
// beyond the OS cache (a test server never outlives a power cut).
var mariadbOptions = []string{
	"--innodb-buffer-pool-size=32M",
	"--innodb-log-file-size=8M",
	"--innodb-flush-log-at-trx-commit=2",
	"--innodb-doublewrite=0",
	"--skip-log-bin",
	"--performance-schema=OFF",
	"--skip-name-resolve",
	"--max-connections=200",
}

// MariaDBServer is a mariadbd child process started for one test, with
// its data in a temporary folder. Root has an empty password over TCP.
type MariaDBServer struct {
	// Addr is the server's host:port on 127.0.0.1.
	Addr string

	t      testing.TB
	bin    string
	dir    string // holds data/, the socket and the error log
	port   int
	errLog string

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{} // closed when cmd has exited
	stopped bool          // cmd was signalled and has exited
}

// MariaDB installs a fresh data folder, starts mariadbd on a free loopback
// port, waits until it answers and stops it when the test ends. It takes
// about a second.
func MariaDB(t testing.TB) *MariaDBServer {
	t.Helper()
	m := &MariaDBServer{
		t:   t,
		bin: Binary(t, "mariadbd"),
		dir: shortTempDir(t),
	}
	m.errLog = filepath.Join(m.dir, "error.log")
	m.install(Binary(t, "mariadb-install-db"))
	t.Cleanup(m.Stop)
	// Another process may take the free port before mariadbd binds it.
	for attempt := 1; ; attempt++ {
		m.port = FreePort(t)
		m.Addr = Addr(m.port)
		err := m.start()
		if err == nil {
			return m
		}
		if attempt == 3 || !strings.Contains(m.log(), "Address already in use") {
			t.Fatalf("testenv: mariadbd: %v\n%s", err, m.log())
		}
	}
}

// shortTempDir returns t.TempDir(), or a shorter folder when a Unix socket
// path inside it would pass the kernel's limit of about 108 bytes.
func shortTempDir(t testing.TB) string {
	dir := t.TempDir()
	if len(dir) < 90 {
		return dir
	}
	dir, err := os.MkdirTemp("", "mariadb")
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// install creates the system tables in dir/data.
func (m *MariaDBServer) install(bin string) {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	args := append([]string{
		"--no-defaults",
		"--datadir=" + filepath.Join(m.dir, "data"),
		"--auth-root-authentication-method=normal",
		"--skip-test-db",
		// Its temporary tables in its own folder: in the shared /tmp, the
		// installs of tests running side by side can trip on each other.
		"--tmpdir=" + m.dir,
	}, mariadbOptions...)
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		m.t.Fatalf("testenv: mariadb-install-db: %v\n%s", err, out)
	}
}

// start runs mariadbd and waits until it answers a ping.
func (m *MariaDBServer) start() error {
	args := append([]string{
		"--no-defaults",
		"--datadir=" + filepath.Join(m.dir, "data"),
		"--port=" + strconv.Itoa(m.port),
		"--bind-address=127.0.0.1",
		"--socket=" + filepath.Join(m.dir, "sock"),
		"--pid-file=" + filepath.Join(m.dir, "mariadbd.pid"),
		"--log-error=" + m.errLog,
		"--tmpdir=" + m.dir,
		"--user=root",
	}, mariadbOptions...)
	cmd := exec.Command(m.bin, args...)
	// A test binary that dies must not leave a server running.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	m.mu.Lock()
	m.cmd, m.done, m.stopped = cmd, done, false
	m.mu.Unlock()
	if err := m.waitReady(done, 30*time.Second); err != nil {
		m.Kill()
		return err
	}
	return nil
}

// waitReady pings the server until it answers, it exits or d passes.
func (m *MariaDBServer) waitReady(exited <-chan struct{}, d time.Duration) error {
	db, err := sql.Open("mysql", m.config("").FormatDSN())
	if err != nil {
		return err
	}
	defer db.Close()
	deadline := time.Now().Add(d)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err = db.PingContext(ctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return errors.New("exited at start")
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer on %s within %v: %w", m.Addr, d, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// config is root's connection to db (none when empty) over TCP.
func (m *MariaDBServer) config(db string) *gomysql.Config {
	cfg := gomysql.NewConfig()
	cfg.User = "root"
	cfg.Net = "tcp"
	cfg.Addr = m.Addr
	cfg.DBName = db
	cfg.Timeout = 2 * time.Second
	return cfg
}

var dbName = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)

// DSN returns a go-sql-driver DSN for root to database db, creating the
// database if it does not exist. It sets none of the driver's options, so
// the store under test has to set its own.
func (m *MariaDBServer) DSN(db string) string {
	m.t.Helper()
	if !dbName.MatchString(db) {
		m.t.Fatalf("testenv: bad database name %q: use letters, digits and _", db)
	}
	admin, err := sql.Open("mysql", m.config("").FormatDSN())
	if err != nil {
		m.t.Fatalf("testenv: %v", err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS `"+db+"` CHARACTER SET utf8mb4"); err != nil {
		m.t.Fatalf("testenv: create database %s: %v", db, err)
	}
	return fmt.Sprintf("root@tcp(%s)/%s", m.Addr, db)
}

// Stop shuts the server down politely (SIGTERM), killing it when it takes
// more than a few seconds, and waits until it has exited. The data stays
// for Restart.
func (m *MariaDBServer) Stop() { m.signal(syscall.SIGTERM, 5*time.Second) }

// Kill stops the server with SIGKILL, as a crash would, and waits until
// it has exited.
func (m *MariaDBServer) Kill() { m.signal(syscall.SIGKILL, 0) }

// Restart starts the server again on the same port with the same data,
// stopping it first if it still runs.
func (m *MariaDBServer) Restart() {
	m.t.Helper()
	m.Stop()
	if err := m.start(); err != nil {
		m.t.Fatalf("testenv: restart mariadbd: %v\n%s", err, m.log())
	}
}

// signal sends sig and waits for the exit; after grace (if any) it kills.
func (m *MariaDBServer) signal(sig syscall.Signal, grace time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil || m.stopped {
		return
	}
	m.stopped = true
	_ = m.cmd.Process.Signal(sig)
	if grace > 0 {
		select {
		case <-m.done:
			return
		case <-time.After(grace):
			_ = m.cmd.Process.Signal(syscall.SIGKILL)
		}
	}
	<-m.done
}

// log returns the end of the server's error log, for failure messages.
func (m *MariaDBServer) log() string {
	b, err := os.ReadFile(m.errLog)
	if err != nil {
		return "(no error log: " + err.Error() + ")"
	}
	const tail = 4000
	if len(b) > tail {
		b = b[len(b)-tail:]
	}
	return string(b)
}
