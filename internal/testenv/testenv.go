// Package testenv starts real servers for tests: redis-server, mariadbd and
// nginx, each on a free loopback port in a temporary folder, stopped when
// the test ends. A missing binary fails the test (it never skips): the
// README's test command installs them.
package testenv

import (
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago. It
// is taken below the kernel's ephemeral range (32768 and up here), where
// the source ports of outgoing connections come from: a port from there
// can be taken by a client before the server that was meant to bind it.
func FreePort(t testing.TB) int {
	t.Helper()
	for range 100 {
		port := 10000 + rand.IntN(22000)
		l, err := net.Listen("tcp", Addr(port))
		if err == nil {
			l.Close()
			return port
		}
	}
	t.Fatal("testenv: no free port below the ephemeral range")
	return 0
}

// Binary returns the path of a program the test needs, failing the test
// with a hint when it is not installed.
func Binary(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		for _, dir := range []string{"/usr/sbin/", "/usr/local/sbin/", "/sbin/"} {
			if p, err = exec.LookPath(dir + name); err == nil {
				return p
			}
		}
		t.Fatalf("testenv: %s is not installed; run `make deps` (see README)", name)
	}
	return p
}

// WaitTCP waits until addr accepts a connection, failing the test after d.
func WaitTCP(t testing.TB, addr string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("testenv: %s did not accept connections within %v: %v", addr, d, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Addr formats a loopback address.
func Addr(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

// LoadLock waits until no other test of this repository's folder holds the
// load lock, and holds it until the test ends: `go test ./...` runs
// packages in parallel, and tests that judge timing under load (the fault
// suite, the cluster driver) must not run beside each other.
func LoadLock(t testing.TB) {
	t.Helper()
	sum := sha256.Sum256([]byte(RepoRoot(t)))
	path := filepath.Join(os.TempDir(), "globalchat-load-"+hex.EncodeToString(sum[:6])+".lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatalf("testenv: load lock: %v", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatalf("testenv: load lock: %v", err)
	}
	t.Cleanup(func() { f.Close() }) // closing releases the lock
}
