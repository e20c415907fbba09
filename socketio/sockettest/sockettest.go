// Package sockettest is an in-process Socket.IO client for tests: it
// speaks Engine.IO long-polling to an http.Handler (a socketio.Server) by
// calling its ServeHTTP directly, so that a test drives the real server,
// packets, sessions and handlers included, with no socket, no listener
// and no Node. Only the main namespace and text packets are spoken, which
// is what an application's flows need.
//
// A POST is served on the calling goroutine: when Join returns, the
// server's connection handler has run; when Emit returns, the server has
// the event, whose handler runs after the ones before it (ask for an ack,
// or wait for what it sends, to know it ran). Received packets are
// collected by a goroutine that keeps one GET pending, as a browser does,
// and answers the server's pings.
package sockettest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Wait bounds every wait of a Client unless Options.Wait says otherwise.
const Wait = 5 * time.Second

// Options configure a Client.
type Options struct {
	// Address is the client's IP address as the server sees it (the
	// request's RemoteAddr); default 192.0.2.1.
	Address string
	// Wait bounds each wait for a packet; default Wait.
	Wait time.Duration
}

// Packet is a Socket.IO packet received by the client (main namespace).
type Packet struct {
	Type byte  // '0' CONNECT, '1' DISCONNECT, '2' EVENT, '3' ACK, '4' CONNECT_ERROR
	ID   int64 // the ack id, -1 when none
	// Data is the packet's JSON: for an EVENT, the array of its name and
	// arguments.
	Data json.RawMessage
}

// Event is a received EVENT.
type Event struct {
	Name string
	Args []json.RawMessage
}

// Decode decodes argument i into v, failing the test when it cannot.
func (e Event) Decode(t testing.TB, i int, v any) {
	t.Helper()
	if i >= len(e.Args) {
		t.Fatalf("%s: no argument %d in %d", e.Name, i, len(e.Args))
	}
	if err := json.Unmarshal(e.Args[i], v); err != nil {
		t.Fatalf("%s: argument %d: %v", e.Name, i, err)
	}
}

// Client is one Engine.IO session and its socket on the main namespace.
type Client struct {
	t    testing.TB
	h    http.Handler
	opts Options
	sid  string

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // the poll loop has ended

	mu       sync.Mutex
	received []Packet      // not yet taken by the test
	arrived  chan struct{} // signalled at each packet and at the end
	closed   bool          // the server closed the session
	nextAck  int64
}

// Open opens an Engine.IO session on h; no namespace is joined yet. The
// session is closed when the test ends.
func Open(t testing.TB, h http.Handler, opts Options) *Client {
	t.Helper()
	if opts.Address == "" {
		opts.Address = "192.0.2.1"
	}
	if opts.Wait <= 0 {
		opts.Wait = Wait
	}
	c := &Client{t: t, h: h, opts: opts, arrived: make(chan struct{}, 1), done: make(chan struct{})}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	status, body := c.do(http.MethodGet, "", c.ctx)
	if status != http.StatusOK || !strings.HasPrefix(body, "0") {
		t.Fatalf("sockettest: handshake: %d %q", status, body)
	}
	packets := strings.Split(body, "\x1e")
	var open struct{ SID string }
	if err := json.Unmarshal([]byte(packets[0][1:]), &open); err != nil || open.SID == "" {
		t.Fatalf("sockettest: open packet %q: %v", packets[0], err)
	}
	c.sid = open.SID
	c.handle(packets[1:])
	go c.pollLoop()
	t.Cleanup(c.stop)
	return c
}

// Connect opens a session and joins the main namespace with auth (nil for
// none), failing the test when the server refuses it. It returns the
// client and the CONNECT reply ({sid, pid}).
func Connect(t testing.TB, h http.Handler, auth any, opts Options) (*Client, json.RawMessage) {
	t.Helper()
	c := Open(t, h, opts)
	reply, err := c.Join(auth)
	if err != nil {
		t.Fatalf("sockettest: connect refused: %v", err)
	}
	return c, reply
}

// ConnectError is the server's refusal of a CONNECT.
type ConnectError struct {
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

func (e *ConnectError) Error() string { return "connect_error: " + e.Message }

// Join sends a CONNECT with auth to the main namespace and returns the
// server's reply, or its refusal as a *ConnectError.
func (c *Client) Join(auth any) (json.RawMessage, error) {
	c.t.Helper()
	pkt := "0"
	if auth != nil {
		pkt += c.encode(auth)
	}
	c.send(pkt)
	p := c.take(func(p Packet) bool { return p.Type == '0' || p.Type == '4' }, "CONNECT reply")
	if p.Type == '4' {
		ce := &ConnectError{}
		if err := json.Unmarshal(p.Data, ce); err != nil {
			c.t.Fatalf("sockettest: CONNECT_ERROR %s: %v", p.Data, err)
		}
		return nil, ce
	}
	return p.Data, nil
}

// SID returns the Engine.IO session id.
func (c *Client) SID() string { return c.sid }

// Emit sends an event.
func (c *Client) Emit(event string, args ...any) {
	c.t.Helper()
	c.send("2" + c.encode(append([]any{event}, args...)))
}

// EmitWithAck sends an event asking for an acknowledgement, and returns
// the acknowledgement's arguments.
func (c *Client) EmitWithAck(event string, args ...any) []json.RawMessage {
	c.t.Helper()
	c.mu.Lock()
	id := c.nextAck
	c.nextAck++
	c.mu.Unlock()
	c.send("2" + strconv.FormatInt(id, 10) + c.encode(append([]any{event}, args...)))
	p := c.take(func(p Packet) bool { return p.Type == '3' && p.ID == id }, "ack "+strconv.FormatInt(id, 10))
	var args2 []json.RawMessage
	if err := json.Unmarshal(p.Data, &args2); err != nil {
		c.t.Fatalf("sockettest: ack %s: %v", p.Data, err)
	}
	return args2
}

// EmitRaw sends a Socket.IO packet as it is given (type digit first), for
// tests of what a broken client sends.
func (c *Client) EmitRaw(packet string) {
	c.t.Helper()
	c.send(packet)
}

// Next returns the next event received, whatever its name: events come in
// the order the server wrote them, so a test can tell what came before
// what (and that nothing came in between).
func (c *Client) Next() Event {
	c.t.Helper()
	return c.event(c.take(func(p Packet) bool { return p.Type == '2' }, "an event"))
}

// Expect returns the first event received with that name, leaving the
// others to Next and Expect.
func (c *Client) Expect(name string) Event {
	c.t.Helper()
	return c.event(c.take(func(p Packet) bool { return p.Type == '2' && eventName(p.Data) == name }, name))
}

// Pending returns the names of the events received and not taken yet.
func (c *Client) Pending() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var names []string
	for _, p := range c.received {
		if p.Type == '2' {
			names = append(names, eventName(p.Data))
		}
	}
	return names
}

// Disconnect leaves the main namespace (a DISCONNECT packet), keeping
// the Engine.IO session.
func (c *Client) Disconnect() {
	c.t.Helper()
	c.send("1")
}

// Close ends the Engine.IO session as a client does (a close packet).
func (c *Client) Close() {
	c.t.Helper()
	status, body := c.do(http.MethodPost, "1", context.Background())
	if status != http.StatusOK && status != http.StatusBadRequest { // 400: closed already
		c.t.Fatalf("sockettest: close: %d %q", status, body)
	}
	c.stop()
}

// Drop abandons the session without a word, as a lost network does: the
// pending GET goes away, which the server sees as a closed transport.
func (c *Client) Drop() { c.stop() }

// WaitClosed waits until the server has closed the session.
func (c *Client) WaitClosed() {
	c.t.Helper()
	select {
	case <-c.done:
	case <-time.After(c.opts.Wait):
		c.t.Fatalf("sockettest: session still open after %v", c.opts.Wait)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.t.Fatal("sockettest: the session was dropped by the client, not closed by the server")
	}
}

func (c *Client) stop() {
	c.cancel()
	<-c.done
}

// take removes and returns the first received packet that match accepts,
// waiting for it.
func (c *Client) take(match func(Packet) bool, what string) Packet {
	c.t.Helper()
	deadline := time.NewTimer(c.opts.Wait)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		for i, p := range c.received {
			if match(p) {
				c.received = append(c.received[:i:i], c.received[i+1:]...)
				c.mu.Unlock()
				return p
			}
		}
		closed := c.closed
		c.mu.Unlock()
		if closed {
			c.t.Fatalf("sockettest: waiting for %s: the session is closed", what)
		}
		select {
		case <-c.arrived:
		case <-c.done:
			c.mu.Lock()
			c.closed = true
			c.mu.Unlock()
		case <-deadline.C:
			c.t.Fatalf("sockettest: no %s within %v (pending events: %v)", what, c.opts.Wait, c.Pending())
		}
	}
}

func (c *Client) event(p Packet) Event {
	c.t.Helper()
	var raw []json.RawMessage
	if err := json.Unmarshal(p.Data, &raw); err != nil || len(raw) == 0 {
		c.t.Fatalf("sockettest: event %s: %v", p.Data, err)
	}
	e := Event{Args: raw[1:]}
	json.Unmarshal(raw[0], &e.Name)
	return e
}

func eventName(data json.RawMessage) string {
	var raw []json.RawMessage
	var name string
	if json.Unmarshal(data, &raw) == nil && len(raw) > 0 {
		json.Unmarshal(raw[0], &name)
	}
	return name
}

func (c *Client) encode(v any) string {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatalf("sockettest: encode %T: %v", v, err)
	}
	return string(b)
}

// send POSTs one Socket.IO packet.
func (c *Client) send(packet string) {
	c.t.Helper()
	if status, body := c.do(http.MethodPost, "4"+packet, context.Background()); status != http.StatusOK {
		c.t.Fatalf("sockettest: POST %q: %d %q", packet, status, body)
	}
}

// do serves one request of the session (its handshake while sid is
// unset) and returns the status and body.
func (c *Client) do(method, body string, ctx context.Context) (int, string) {
	target := "/socket.io/?EIO=4&transport=polling"
	if c.sid != "" {
		target += "&sid=" + c.sid
	}
	r := httptest.NewRequestWithContext(ctx, method, target, strings.NewReader(body))
	r.RemoteAddr = c.opts.Address + ":40000"
	if method == http.MethodPost {
		r.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	w := httptest.NewRecorder()
	c.h.ServeHTTP(w, r)
	return w.Code, w.Body.String()
}

// pollLoop keeps a GET pending, as a browser does, until the session ends.
func (c *Client) pollLoop() {
	defer close(c.done)
	defer c.signal()

	for {
		status, body := c.do(http.MethodGet, "", c.ctx)
		if c.ctx.Err() != nil {
			// Dropped (or stopped). The server sees the transport close
			// only when a GET that waits goes away: after a drop between
			// two GETs, or during one it answered, poll again with the
			// context done, which goes away at once once the queue is
			// empty (an empty 200). What it answered is lost, as on a
			// lost network.
			if status == http.StatusOK && body != "" {
				continue
			}
			return
		}
		if status != http.StatusOK {
			c.setClosed()
			return
		}
		if !c.handle(strings.Split(body, "\x1e")) {
			c.setClosed()
			return
		}
	}
}

func (c *Client) setClosed() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
}

// handle takes in Engine.IO packets; false once the server closed the
// session.
func (c *Client) handle(packets []string) bool {
	for _, p := range packets {
		switch {
		case p == "":
		case p[0] == '1':
			return false
		case p[0] == '2': // ping: pong, from another goroutine than the poll
			go c.do(http.MethodPost, "3"+p[1:], context.Background())
		case p[0] == '4':
			pkt, err := decode(p[1:])
			if err != nil {
				c.t.Errorf("sockettest: %v", err)
				continue
			}
			c.mu.Lock()
			c.received = append(c.received, pkt)
			c.mu.Unlock()
			c.signal()
		case p[0] == '6': // noop
		default:
			c.t.Errorf("sockettest: unexpected Engine.IO packet %q", p)
		}
	}
	return true
}

func (c *Client) signal() {
	select {
	case c.arrived <- struct{}{}:
	default:
	}
}

// decode parses a text Socket.IO packet of the main namespace.
func decode(s string) (Packet, error) {
	if s == "" || s[0] < '0' || s[0] > '4' {
		return Packet{}, fmt.Errorf("packet %q not spoken here (binary, or not a packet)", s)
	}
	p := Packet{Type: s[0], ID: -1}
	s = s[1:]
	if strings.HasPrefix(s, "/") {
		return Packet{}, fmt.Errorf("packet of namespace %q: only the main namespace is spoken here", s)
	}
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i > 0 {
		id, err := strconv.ParseInt(s[:i], 10, 64)
		if err != nil {
			return Packet{}, err
		}
		p.ID = id
	}
	if data := s[i:]; data != "" {
		if !json.Valid([]byte(data)) {
			return Packet{}, errors.New("packet with invalid JSON: " + strconv.Quote(data))
		}
		p.Data = bytes.Clone([]byte(data))
	}
	return p, nil
}
