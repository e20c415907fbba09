package socketio

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/globalchat/globalchat/internal/wstest"
	"github.com/gobwas/ws"
)

// waitFor bounds every wait of these tests.
const waitFor = 5 * time.Second

// liveServer is a Server on a real loopback listener.
type liveServer struct {
	*Server
	ts *httptest.Server
}

func newLiveServer(t testing.TB, opts Options) *liveServer {
	t.Helper()
	s, err := NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		s.Shutdown(ctx)
		ts.Close()
	})
	return &liveServer{s, ts}
}

// wsURL is the Engine.IO WebSocket endpoint, for a session when sid is set.
func (l *liveServer) wsURL(sid string) string {
	u := "ws" + strings.TrimPrefix(l.ts.URL, "http") + "/socket.io/?EIO=4&transport=websocket"
	if sid != "" {
		u += "&sid=" + sid
	}
	return u
}

// pollURL is the Engine.IO polling endpoint.
func (l *liveServer) pollURL(sid string) string {
	u := l.ts.URL + "/socket.io/?EIO=4&transport=polling"
	if sid != "" {
		u += "&sid=" + sid
	}
	return u
}

// testClient is a raw Socket.IO client over a raw WebSocket.
type testClient struct {
	*wstest.Conn
	t   testing.TB
	sid string // the Engine.IO session
}

// dialURL opens a WebSocket to url without reading anything.
func dialURL(t testing.TB, url string) *testClient {
	t.Helper()
	return &testClient{Conn: wstest.MustDial(t, url, wstest.Options{Wait: waitFor}), t: t}
}

// dial opens an Engine.IO session over WebSocket and reads its open
// packet; no namespace is joined yet.
func (l *liveServer) dial(t testing.TB) *testClient {
	t.Helper()
	c := dialURL(t, l.wsURL(""))
	open, err := c.readEngine()
	if err != nil || !strings.HasPrefix(open, "0") {
		t.Fatalf("open packet: %q %v", open, err)
	}
	var hs struct{ SID string }
	json.Unmarshal([]byte(open[1:]), &hs)
	c.sid = hs.SID
	return c
}

// readEngine reads one Engine.IO packet; binary ones come back prefixed
// with "b" and base64-free, as raw bytes after the prefix.
func (c *testClient) readEngine() (string, error) {
	b, op, err := c.Read()
	if err != nil {
		return "", err
	}
	if op == ws.OpBinary {
		return "b" + string(b), nil
	}
	return string(b), nil
}

// next returns the next Socket.IO packet (or "b"+bytes for an
// attachment), answering pings on the way.
func (c *testClient) next() string {
	c.t.Helper()
	for {
		p, err := c.readEngine()
		if err != nil {
			c.t.Fatalf("read: %v", err)
		}
		switch {
		case p == "2":
			c.sendEngine("3")
		case strings.HasPrefix(p, "4"):
			return p[1:]
		case strings.HasPrefix(p, "b"):
			return p
		default:
			c.t.Fatalf("unexpected Engine.IO packet %q", p)
		}
	}
}

func (c *testClient) expect(want string) {
	c.t.Helper()
	if got := c.next(); got != want {
		c.t.Fatalf("received %q, want %q", got, want)
	}
}

func (c *testClient) sendEngine(p string) { c.t.Helper(); c.Send(p) }

// send sends a Socket.IO packet.
func (c *testClient) send(p string) { c.t.Helper(); c.sendEngine("4" + p) }

func (c *testClient) sendBinary(b []byte) {
	c.t.Helper()
	if err := c.SendBinary(b); err != nil {
		c.t.Fatal(err)
	}
}

// connect joins a namespace and returns the socket id.
func (c *testClient) connect(nsp string) string {
	c.t.Helper()
	prefix := "0"
	if nsp != "/" {
		prefix += nsp + ","
	}
	c.send(prefix)
	got := c.next()
	var reply struct{ SID string }
	if !strings.HasPrefix(got, prefix+"{") || json.Unmarshal([]byte(got[len(prefix):]), &reply) != nil || reply.SID == "" {
		c.t.Fatalf("CONNECT %s: %q", nsp, got)
	}
	return reply.SID
}

// expectClosed reads until the server ends the session: an Engine.IO
// close packet, a WebSocket close frame or the end of the stream.
func (c *testClient) expectClosed() {
	c.t.Helper()
	c.ExpectClosed(func(p []byte) bool { return string(p) == "1" })
}

// httpDo sends one request and returns status and body.
func httpDo(t testing.TB, client *http.Client, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(b)
}

func contextWithTimeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), waitFor)
}
