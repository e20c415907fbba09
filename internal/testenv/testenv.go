// Package testenv starts real servers for tests: redis-server, mariadbd and
// nginx, each on a free loopback port in a temporary folder, stopped when
// the test ends. A missing binary fails the test (it never skips): the
// README's test command installs them.
package testenv

import (
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv: no free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
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
