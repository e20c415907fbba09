package main

import (
	"bytes"
	"io"
	"net"
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
	"github.com/globalchat/globalchat/internal/wstest"
)

// instance is the real binary running for a test, its output kept.
type instance struct {
	url  string
	addr string
	pid  int
	mu   sync.Mutex
	out  bytes.Buffer
}

func (i *instance) Write(p []byte) (int, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.out.Write(p)
}

// logs returns what the server has written so far.
func (i *instance) logs() string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.out.String()
}

// startBinary runs the server on embedded defaults (SQLite in a temporary
// folder) with the shipped limits, but for what env sets.
func startBinary(t *testing.T, env ...string) *instance {
	t.Helper()
	port := testenv.FreePort(t)
	cmd := exec.Command(buildBinary(t))
	cmd.Env = append(os.Environ(), append([]string{"PORT=" + strconv.Itoa(port), "HOST=127.0.0.1",
		"SQLITE_PATH=" + filepath.Join(t.TempDir(), "chat.db"), "LOG_FORMAT=text"}, env...)...)
	in := &instance{addr: testenv.Addr(port)}
	in.url = "http://" + in.addr
	cmd.Stdout, cmd.Stderr = in, in
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	in.pid = cmd.Process.Pid
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("server log (last 4 KB):\n%s", tail(in.logs(), 4096))
		}
	})
	testenv.WaitTCP(t, in.addr, 20*time.Second)
	return in
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// from returns an HTTP client whose connections come from the loopback
// address local.
func from(local string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 4}}
}

// get answers a GET to url: status and body.
func get(t *testing.T, c *http.Client, url string, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// handshakeURL is a polling handshake of the server at base.
func handshakeURL(base string) string { return base + "/socket.io/?EIO=4&transport=polling" }

// wsClient is a bare Socket.IO client over WebSocket: what a hostile
// client can send, frame by frame.
type wsClient struct {
	*wstest.Conn
	t *testing.T
}

// dialWS opens a WebSocket session from the loopback address local and
// reads its open packet.
func dialWS(t *testing.T, in *instance, local string) *wsClient {
	t.Helper()
	conn, err := wstest.Dial(t, "ws://"+in.addr+"/socket.io/?EIO=4&transport=websocket", wstest.Options{LocalAddr: local})
	if err != nil {
		t.Fatalf("websocket from %s: %v", local, err)
	}
	c := &wsClient{Conn: conn, t: t}
	if open := c.read(); !strings.HasPrefix(open, "0{") {
		t.Fatalf("open packet: %q", open)
	}
	return c
}

func (c *wsClient) send(text string) { c.t.Helper(); c.Send(text) }

// read returns the next text message, answering pings.
func (c *wsClient) read() string {
	c.t.Helper()
	for {
		s := c.ExpectText()
		if s != "2" {
			return s
		}
		c.Send("3")
	}
}

// join connects the main namespace as a guest and waits for the reply.
func (c *wsClient) join(name string) {
	c.t.Helper()
	c.send(`40{"username":"` + name + `"}`)
	if reply := c.read(); !strings.HasPrefix(reply, "40{") {
		c.t.Fatalf("CONNECT reply: %q", reply)
	}
}

// vmRSS returns the resident memory of process pid, in bytes.
func vmRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}
