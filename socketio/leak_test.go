package socketio

import (
	"encoding/json"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/globalchat/globalchat/internal/testwait"
)

// leakCycles is how many connect/disconnect cycles each transport runs.
const leakCycles = 1000

// TestNoLeak connects and disconnects many clients on each transport, then
// checks that the server holds no connection, socket or goroutine more
// than before.
func TestNoLeak(t *testing.T) {
	l := newLiveServer(t, Options{})
	l.Of("/").OnConnection(func(s *Socket) {
		s.Join("room")
		s.On("hi", func(s *Socket, e *Event) { e.Ack("hello") })
	})
	transport := &http.Transport{MaxIdleConnsPerHost: 4}
	client := &http.Client{Transport: transport, Timeout: waitFor}
	defer transport.CloseIdleConnections()
	lc := &leakClient{t: t, l: l, http: client}

	// Warm up: the first cycles start goroutines that stay (the HTTP
	// client's and server's keep-alive connections).
	lc.websocket()
	lc.polling()
	lc.upgrade()
	transport.CloseIdleConnections()
	waitIdle(t, l)
	base := runtime.NumGoroutine()

	for name, cycle := range map[string]func(){"websocket": lc.websocket, "polling": lc.polling, "upgrade": lc.upgrade} {
		start := time.Now()
		for range leakCycles {
			cycle()
		}
		t.Logf("%d %s cycles in %v", leakCycles, name, time.Since(start))
	}
	transport.CloseIdleConnections()
	waitIdle(t, l)

	const slack = 3
	deadline := time.Now().Add(waitFor)
	for runtime.NumGoroutine() > base+slack {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitIdle waits until the server holds no connection and no socket.
func waitIdle(t *testing.T, l *liveServer) {
	t.Helper()
	testwait.For(t, "every connection to close", func() bool {
		return l.Connections() == 0 && l.Of("/").Len() == 0 && l.Of("/").RoomSize("room") == 0
	})
}

// leakClient runs one connect/disconnect cycle per transport.
type leakClient struct {
	t    *testing.T
	l    *liveServer
	http *http.Client
}

// websocket: connect, one acked event, DISCONNECT, then an Engine.IO
// close, as the official client's Manager does when its last socket goes.
func (lc *leakClient) websocket() {
	c := lc.l.dial(lc.t)
	c.connect("/")
	c.send(`21["hi"]`)
	c.expect(`31["hello"]`)
	c.send("1")
	c.sendEngine("1")
	c.expectClosed()
	c.Net().Close()
}

// polling: handshake, CONNECT, its answer, then an Engine.IO close.
func (lc *leakClient) polling() {
	sid := lc.pollHandshake()
	lc.expectPost(sid, "40")
	if status, body := httpDo(lc.t, lc.http, "GET", lc.l.pollURL(sid), ""); status != 200 || !strings.HasPrefix(body, `40{"sid":`) {
		lc.t.Fatalf("CONNECT answer: %d %q", status, body)
	}
	lc.expectPost(sid, "1")
}

// upgrade: polling, CONNECT, then the probe exchange to WebSocket, where
// the client leaves with DISCONNECT and an Engine.IO close.
func (lc *leakClient) upgrade() {
	sid := lc.pollHandshake()
	lc.expectPost(sid, "40")
	if status, body := httpDo(lc.t, lc.http, "GET", lc.l.pollURL(sid), ""); status != 200 || !strings.HasPrefix(body, `40{"sid":`) {
		lc.t.Fatalf("CONNECT answer: %d %q", status, body)
	}
	c := dialURL(lc.t, lc.l.wsURL(sid))
	defer c.Net().Close()
	c.sid = sid
	c.sendEngine("2probe")
	if p, err := c.readEngine(); err != nil || p != "3probe" {
		lc.t.Fatalf("probe: %q %v", p, err)
	}
	c.sendEngine("5")
	c.send(`22["hi"]`)
	c.expect(`32["hello"]`)
	c.send("1")
	c.sendEngine("1")
	c.expectClosed()
}

func (lc *leakClient) pollHandshake() string {
	status, body := httpDo(lc.t, lc.http, "GET", lc.l.pollURL(""), "")
	var open struct{ SID string }
	if status != 200 || !strings.HasPrefix(body, "0") || json.Unmarshal([]byte(body[1:]), &open) != nil {
		lc.t.Fatalf("handshake: %d %q", status, body)
	}
	return open.SID
}

func (lc *leakClient) expectPost(sid, body string) {
	if status, res := httpDo(lc.t, lc.http, "POST", lc.l.pollURL(sid), body); status != 200 || res != "ok" {
		lc.t.Fatalf("POST %q: %d %q", body, status, res)
	}
}
