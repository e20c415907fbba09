package engineio

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/globalchat/globalchat/internal/testwait"
	"github.com/globalchat/globalchat/internal/wstest"
)

// waitFor bounds every wait of these tests: long enough for a loaded
// machine, short enough to fail fast.
const waitFor = 5 * time.Second

// recorder is the Receiver of a test connection: it records what arrives.
type recorder struct {
	conn   *Conn
	msgs   chan Message
	closed chan Reason
	// handle, when set, runs on each message before it is recorded (a
	// handler that takes its time, and answers).
	handle atomic.Pointer[func(data []byte)]
	// closedAt is when OnClose ran.
	closedAt atomic.Pointer[time.Time]
}

func (r *recorder) OnMessage(data []byte, binary bool) {
	if h := r.handle.Load(); h != nil {
		(*h)(data)
	}
	r.msgs <- Message{Data: bytes.Clone(data), Binary: binary}
}

func (r *recorder) OnClose(reason Reason) {
	now := time.Now()
	r.closedAt.Store(&now)
	r.closed <- reason
}

// message waits for the next received message.
func (r *recorder) message(t *testing.T) Message {
	t.Helper()
	select {
	case m := <-r.msgs:
		return m
	case <-time.After(waitFor):
		t.Fatal("no message received")
		return Message{}
	}
}

// closedWith waits for OnClose and checks its reason.
func (r *recorder) closedWith(t *testing.T, want Reason) {
	t.Helper()
	select {
	case got := <-r.closed:
		if got != want {
			t.Fatalf("closed with %q, want %q", got, want)
		}
	case <-time.After(waitFor):
		t.Fatalf("not closed (want %q)", want)
	}
}

// stillOpen checks that OnClose was not called.
func (r *recorder) stillOpen(t *testing.T) {
	t.Helper()
	select {
	case got := <-r.closed:
		t.Fatalf("closed with %q, want open", got)
	default:
	}
}

// harness is a Server on a real loopback listener that counts the writes
// made to its connections, with a client of its own.
type harness struct {
	t      *testing.T
	srv    *Server
	ts     *httptest.Server
	client *http.Client
	opened chan *recorder
	writes atomic.Int64
}

func newHarness(t *testing.T, opts Options) *harness {
	t.Helper()
	h := &harness{t: t, opened: make(chan *recorder, 64)}
	h.srv = NewServer(opts, func(c *Conn) Receiver {
		r := &recorder{conn: c, msgs: make(chan Message, 256), closed: make(chan Reason, 1)}
		h.opened <- r
		return r
	})
	h.ts = httptest.NewUnstartedServer(h.srv)
	h.ts.Listener = countingListener{h.ts.Listener, &h.writes}
	h.ts.Start()
	transport := &http.Transport{}
	h.client = &http.Client{Transport: transport, Timeout: waitFor}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		h.srv.Shutdown(ctx)
		transport.CloseIdleConnections()
		h.ts.Close()
	})
	return h
}

// countingListener counts the writes to the connections it accepts, the
// hijacked WebSockets included.
type countingListener struct {
	net.Listener
	writes *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{c, l.writes}, nil
}

type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// accept returns the Receiver of the next connection the server opened.
func (h *harness) accept() *recorder {
	h.t.Helper()
	select {
	case r := <-h.opened:
		return r
	case <-time.After(waitFor):
		h.t.Fatal("no connection opened")
		return nil
	}
}

// url is the endpoint for a transport and session.
func (h *harness) url(transport, sid string) string {
	q := url.Values{"EIO": {"4"}, "transport": {transport}}
	if sid != "" {
		q.Set("sid", sid)
	}
	return h.ts.URL + "/engine.io/?" + q.Encode()
}

// response is what a test keeps of an HTTP response.
type response struct {
	status int
	body   string
	header http.Header
}

// do sends one request; header may be nil.
func (h *harness) do(method, u, body string, header http.Header) response {
	h.t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := h.client.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, u, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		h.t.Fatalf("%s %s: reading body: %v", method, u, err)
	}
	return response{res.StatusCode, string(b), res.Header}
}

func (h *harness) get(sid string) response { return h.do("GET", h.url("polling", sid), "", nil) }
func (h *harness) post(sid, body string) response {
	return h.do("POST", h.url("polling", sid), body, http.Header{"Content-Type": {"text/plain;charset=UTF-8"}})
}

// handshakeData is the JSON of an open packet.
type handshakeData struct {
	SID          string   `json:"sid"`
	Upgrades     []string `json:"upgrades"`
	PingInterval int64    `json:"pingInterval"`
	PingTimeout  int64    `json:"pingTimeout"`
	MaxPayload   int      `json:"maxPayload"`
}

func parseOpen(t *testing.T, packet string) handshakeData {
	t.Helper()
	var d handshakeData
	if !strings.HasPrefix(packet, "0") || json.Unmarshal([]byte(packet[1:]), &d) != nil || d.SID == "" {
		t.Fatalf("not an open packet: %q", packet)
	}
	return d
}

// handshake opens a polling session and returns its id and receiver.
func (h *harness) handshake() (string, *recorder) {
	h.t.Helper()
	res := h.get("")
	if res.status != http.StatusOK {
		h.t.Fatalf("handshake: %d %s", res.status, res.body)
	}
	return parseOpen(h.t, res.body).SID, h.accept()
}

// expectGet checks that the next poll answers body.
func (h *harness) expectGet(sid, want string) {
	h.t.Helper()
	if res := h.get(sid); res.status != http.StatusOK || res.body != want {
		h.t.Fatalf("GET: %d %q, want 200 %q", res.status, res.body, want)
	}
}

// expectError checks an Engine.IO error response.
func expectError(t *testing.T, res response, status, code int) {
	t.Helper()
	var body struct {
		Code    *int   `json:"code"`
		Message string `json:"message"`
	}
	if res.status != status || json.Unmarshal([]byte(res.body), &body) != nil || body.Code == nil ||
		*body.Code != code || body.Message == "" {
		t.Fatalf("got %d %q, want %d with code %d", res.status, res.body, status, code)
	}
	if ct := res.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error Content-Type %q", ct)
	}
}

// gone checks that the session no longer exists.
func (h *harness) gone(sid string) {
	h.t.Helper()
	expectError(h.t, h.get(sid), http.StatusBadRequest, errSessionUnknown)
	if n := h.srv.Len(); n != 0 {
		h.t.Fatalf("%d connections left", n)
	}
}

// conn returns the server's connection of a session.
func (h *harness) conn(sid string) *Conn {
	h.t.Helper()
	c := h.srv.lookup(sid)
	if c == nil {
		h.t.Fatalf("no session %s", sid)
	}
	return c
}

// pendingGet starts a poll and returns where its response will arrive once
// the server holds it.
func (h *harness) pendingGet(sid string) <-chan response {
	h.t.Helper()
	ch := make(chan response, 1)
	go func() {
		res, err := h.client.Get(h.url("polling", sid))
		if err != nil {
			ch <- response{status: -1, body: err.Error()}
			return
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		ch <- response{res.StatusCode, string(b), res.Header}
	}()
	c := h.conn(sid)
	testwait.For(h.t, "the poll to be pending", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.polling
	})
	return ch
}

func receive(t *testing.T, ch <-chan response) response {
	t.Helper()
	select {
	case res := <-ch:
		return res
	case <-time.After(waitFor):
		t.Fatal("pending request not answered")
		return response{}
	}
}

// wsClient is a raw WebSocket client, its connection at hand for the
// tests that write frames of their own.
type wsClient struct {
	*wstest.Conn
	conn net.Conn
	rw   io.Reader
}

// dial opens a WebSocket to the server; sid may be empty and header nil.
func (h *harness) dial(sid string, header http.Header) (*wsClient, error) {
	u := "ws" + strings.TrimPrefix(h.url("websocket", sid), "http")
	c, err := wstest.Dial(h.t, u, wstest.Options{Header: header, Wait: waitFor})
	if err != nil {
		return nil, err
	}
	return &wsClient{Conn: c, conn: c.Net(), rw: c.Reader()}, nil
}

// mustDial dials and reads the open packet of a new session.
func (h *harness) mustDial() (*wsClient, handshakeData, *recorder) {
	h.t.Helper()
	c, err := h.dial("", nil)
	if err != nil {
		h.t.Fatal(err)
	}
	open := parseOpen(h.t, c.ExpectText())
	return c, open, h.accept()
}
