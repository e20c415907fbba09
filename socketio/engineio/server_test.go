package engineio

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/globalchat/globalchat/internal/testwait"
)

func TestRequestErrors(t *testing.T) {
	h := newHarness(t, Options{})
	base := h.ts.URL + "/engine.io/"
	for _, tc := range []struct {
		name, method, query string
		status, code        int
	}{
		{"missing EIO", "GET", "?transport=polling", 400, errUnsupportedVersion},
		{"EIO 3", "GET", "?EIO=3&transport=polling", 400, errUnsupportedVersion},
		{"EIO 5", "GET", "?EIO=5&transport=websocket", 400, errUnsupportedVersion},
		{"missing transport", "GET", "?EIO=4", 400, errTransportUnknown},
		{"unknown transport", "GET", "?EIO=4&transport=flashsocket", 400, errTransportUnknown},
		{"unknown sid", "GET", "?EIO=4&transport=polling&sid=nope", 400, errSessionUnknown},
		{"unknown sid POST", "POST", "?EIO=4&transport=polling&sid=nope", 400, errSessionUnknown},
		{"unknown sid websocket", "GET", "?EIO=4&transport=websocket&sid=nope", 400, errSessionUnknown},
		{"POST handshake", "POST", "?EIO=4&transport=polling", 400, errBadHandshake},
		{"PUT handshake", "PUT", "?EIO=4&transport=polling", 400, errBadHandshake},
		{"websocket without upgrade", "GET", "?EIO=4&transport=websocket", 400, errBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expectError(t, h.do(tc.method, base+tc.query, "40", nil), tc.status, tc.code)
		})
	}
	if n := h.srv.Len(); n != 0 {
		t.Fatalf("%d connections opened by bad requests", n)
	}

	sid, _ := h.handshake()
	t.Run("PUT with sid", func(t *testing.T) {
		expectError(t, h.do("PUT", h.url("polling", sid), "4x", nil), 400, errBadRequest)
	})
	t.Run("websocket with sid without upgrade", func(t *testing.T) {
		expectError(t, h.do("GET", h.url("websocket", sid), "", nil), 400, errBadRequest)
	})
}

func TestDisabledTransports(t *testing.T) {
	h := newHarness(t, Options{DisablePolling: true})
	expectError(t, h.get(""), 400, errTransportUnknown)
	if _, err := h.dial("", nil); err != nil {
		t.Fatalf("websocket refused: %v", err)
	}

	h = newHarness(t, Options{DisableWebSocket: true})
	if _, err := h.dial("", nil); !isStatus(err, 400) {
		t.Fatalf("websocket with it disabled: %v", err)
	}
	if open := parseOpen(t, h.get("").body); len(open.Upgrades) != 0 {
		t.Fatalf("upgrades offered: %v", open.Upgrades)
	}
}

func isStatus(err error, status int) bool {
	var se ws.StatusError
	return errors.As(err, &se) && int(se) == status
}

func TestPollingHandshake(t *testing.T) {
	h := newHarness(t, Options{PingInterval: time.Second, PingTimeout: 2 * time.Second, MaxPayload: 1234})
	res := h.get("")
	if res.status != 200 || !strings.HasPrefix(res.header.Get("Content-Type"), "text/plain") {
		t.Fatalf("handshake: %d %q", res.status, res.header.Get("Content-Type"))
	}
	open := parseOpen(t, res.body)
	if !slices.Equal(open.Upgrades, []string{"websocket"}) || open.PingInterval != 1000 ||
		open.PingTimeout != 2000 || open.MaxPayload != 1234 || len(open.SID) != 20 {
		t.Fatalf("open packet %+v", open)
	}
	r := h.accept()
	if r.conn.ID() != open.SID || r.conn.Transport() != "polling" || h.srv.Len() != 1 {
		t.Fatalf("conn %s %s, %d conns", r.conn.ID(), r.conn.Transport(), h.srv.Len())
	}
	if r.conn.Request().Query.Get("EIO") != "4" || r.conn.Request().RemoteAddr == "" {
		t.Fatalf("request info %+v", r.conn.Request())
	}
}

func TestPollingSecondGet(t *testing.T) {
	h := newHarness(t, Options{})
	sid, r := h.handshake()
	first := h.pendingGet(sid)
	expectError(t, h.get(sid), 400, errBadRequest)
	if res := receive(t, first); res.status != 200 || res.body != "1" {
		t.Fatalf("first GET: %d %q, want the close packet", res.status, res.body)
	}
	r.closedWith(t, ReasonTransportError)
	h.gone(sid)
}

func TestPollingConcurrentPost(t *testing.T) {
	h := newHarness(t, Options{})
	sid, r := h.handshake()

	// A POST whose body is still on its way.
	raw, err := net.Dial("tcp", h.ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	path := strings.TrimPrefix(h.url("polling", sid), h.ts.URL)
	fmt.Fprintf(raw, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: text/plain\r\nContent-Length: 8\r\n\r\n4abc",
		path, h.ts.Listener.Addr())
	c := h.conn(sid)
	testwait.For(t, "the first POST to be read", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.posting
	})

	expectError(t, h.post(sid, "4second"), 400, errBadRequest)
	r.closedWith(t, ReasonTransportError)

	raw.Write([]byte("defg"))
	raw.SetReadDeadline(time.Now().Add(waitFor))
	res, err := http.ReadResponse(bufio.NewReader(raw), nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	// The session is closing: its close packet waits for one last poll.
	h.expectGet(sid, "1")
	h.gone(sid)
}

func TestPollingInvalidPacket(t *testing.T) {
	for _, body := range []string{"abc", "", "4ok\x1e", "b!!!", "9", "4a\x1e\x1e4b"} {
		t.Run(fmt.Sprintf("%q", body), func(t *testing.T) {
			h := newHarness(t, Options{})
			sid, r := h.handshake()
			expectError(t, h.post(sid, body), 400, errBadRequest)
			r.closedWith(t, ReasonParseError)
			h.gone(sid)
			if len(r.msgs) != 0 {
				t.Fatalf("part of an invalid payload was delivered")
			}
		})
	}
}

func TestPollingOversize(t *testing.T) {
	h := newHarness(t, Options{MaxPayload: 64})
	sid, r := h.handshake()
	fits := "4" + strings.Repeat("a", 63)
	if res := h.post(sid, fits); res.status != 200 || res.body != "ok" {
		t.Fatalf("POST of maxPayload bytes: %d %q", res.status, res.body)
	}
	if m := r.message(t); string(m.Data) != fits[1:] {
		t.Fatalf("received %q", m.Data)
	}
	expectError(t, h.post(sid, fits+"a"), http.StatusRequestEntityTooLarge, errBadRequest)
	r.closedWith(t, ReasonParseError)
	h.gone(sid)
}

func TestPollingMessages(t *testing.T) {
	h := newHarness(t, Options{})
	sid, r := h.handshake()
	if res := h.post(sid, "4hello\x1ebAQID\x1e4\x1eb"); res.status != 200 || res.body != "ok" {
		t.Fatalf("POST: %d %q", res.status, res.body)
	}
	for _, want := range []Message{{Data: []byte("hello")}, {Data: []byte{1, 2, 3}, Binary: true}, {Data: []byte{}}, {Data: []byte{}, Binary: true}} {
		if m := r.message(t); !bytes.Equal(m.Data, want.Data) || m.Binary != want.Binary {
			t.Fatalf("received %+v, want %+v", m, want)
		}
	}
	// What is queued while no poll is pending leaves in one payload.
	r.conn.Send(Message{Data: []byte("a")})
	r.conn.Send(Message{Data: []byte{1, 2, 3}, Binary: true})
	r.conn.Send(Message{Data: []byte("c")}, Message{Data: []byte("d")})
	h.expectGet(sid, "4a\x1ebAQID\x1e4c\x1e4d")

	// And a pending poll is answered as soon as something is sent.
	pending := h.pendingGet(sid)
	r.conn.Send(Message{Data: []byte("later")})
	if res := receive(t, pending); res.body != "4later" {
		t.Fatalf("pending GET: %q", res.body)
	}
}

func TestPollingPing(t *testing.T) {
	h := newHarness(t, Options{})
	sid, _ := h.handshake()
	h.post(sid, "2")
	h.expectGet(sid, "3")
	h.post(sid, "2probe")
	h.expectGet(sid, "3probe")
}

func TestPollingClientClose(t *testing.T) {
	h := newHarness(t, Options{})
	sid, r := h.handshake()
	pending := h.pendingGet(sid)
	if res := h.post(sid, "1"); res.status != 200 {
		t.Fatalf("POST close: %d %q", res.status, res.body)
	}
	if res := receive(t, pending); res.status != 200 || res.body != "6" {
		t.Fatalf("pending GET: %d %q, want a noop", res.status, res.body)
	}
	r.closedWith(t, ReasonTransportClose)
	h.gone(sid)
}

func TestPollingServerClose(t *testing.T) {
	h := newHarness(t, Options{})
	sid, r := h.handshake()
	r.conn.Send(Message{Data: []byte("last")})
	r.conn.Close(ReasonForcedClose)
	r.closedWith(t, ReasonForcedClose)
	if err := r.conn.Send(Message{Data: []byte("x")}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after Close: %v", err)
	}
	// What was queued leaves first, then the close packet on its own.
	h.expectGet(sid, "4last")
	h.expectGet(sid, "1")
	h.gone(sid)
	select {
	case <-r.conn.Done():
	case <-time.After(waitFor):
		t.Fatal("Done not closed")
	}
}

func TestPollingPingTimeout(t *testing.T) {
	h := newHarness(t, Options{PingInterval: 50 * time.Millisecond, PingTimeout: 50 * time.Millisecond})
	sid, r := h.handshake()
	h.expectGet(sid, "2") // the server pings; nobody answers
	r.closedWith(t, ReasonPingTimeout)
	h.gone(sid)
}

func TestPollingHeartbeat(t *testing.T) {
	h := newHarness(t, Options{PingInterval: 30 * time.Millisecond, PingTimeout: time.Second})
	sid, r := h.handshake()
	for range 5 {
		h.expectGet(sid, "2")
		h.post(sid, "3")
	}
	r.stillOpen(t)
}

func TestWebSocketHandshake(t *testing.T) {
	h := newHarness(t, Options{PingInterval: time.Second})
	_, open, r := h.mustDial()
	if len(open.Upgrades) != 0 || open.PingInterval != 1000 || r.conn.Transport() != "websocket" || r.conn.ID() != open.SID {
		t.Fatalf("open %+v, transport %s", open, r.conn.Transport())
	}
}

func TestWebSocketMessages(t *testing.T) {
	h := newHarness(t, Options{})
	c, _, r := h.mustDial()
	c.Send("4hello")
	if err := wsutil.WriteClientBinary(c.conn, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	// A text message in fragments.
	ws.WriteFrame(c.conn, ws.MaskFrame(ws.NewFrame(ws.OpText, false, []byte("4fr"))))
	ws.WriteFrame(c.conn, ws.MaskFrame(ws.NewFrame(ws.OpContinuation, true, []byte("agment"))))
	for _, want := range []Message{{Data: []byte("hello")}, {Data: []byte{1, 2, 3}, Binary: true}, {Data: []byte("fragment")}} {
		if m := r.message(t); !bytes.Equal(m.Data, want.Data) || m.Binary != want.Binary {
			t.Fatalf("received %+v, want %+v", m, want)
		}
	}
	c.Send("2")
	c.Expect("3")

	// Frames queued together leave in one write.
	before := h.writes.Load()
	r.conn.Send(Message{Data: []byte("a")}, Message{Data: []byte{9, 8}, Binary: true}, Message{Data: []byte("c")})
	c.Expect("4a")
	if b, op, err := c.Read(); err != nil || op != ws.OpBinary || !bytes.Equal(b, []byte{9, 8}) {
		t.Fatalf("binary frame: %v %v %v", b, op, err)
	}
	c.Expect("4c")
	if n := h.writes.Load() - before; n != 1 {
		t.Fatalf("3 queued frames took %d writes", n)
	}
}

func TestWebSocketInvalidPacket(t *testing.T) {
	for _, text := range []string{"abc", "", "9", "0", "6", "5"} {
		t.Run(fmt.Sprintf("%q", text), func(t *testing.T) {
			h := newHarness(t, Options{})
			c, _, r := h.mustDial()
			c.Send(text)
			c.ExpectClosed(nil)
			r.closedWith(t, ReasonParseError)
			testwait.For(t, "the session to go", func() bool { return h.srv.Len() == 0 })
		})
	}
}

func TestWebSocketBadFrames(t *testing.T) {
	for name, frame := range map[string][]byte{
		"unmasked":              ws.MustCompileFrame(ws.NewTextFrame([]byte("4hi"))),
		"continuation first":    ws.MustCompileFrame(ws.MaskFrame(ws.NewFrame(ws.OpContinuation, true, []byte("4hi")))),
		"close frame":           ws.MustCompileFrame(ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, "")))),
		"negative length (MSB)": {0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, Options{MaxPayload: 64})
			c, _, r := h.mustDial()
			c.conn.Write(frame)
			c.ExpectClosed(nil)
			r.closedWith(t, ReasonTransportClose)
			testwait.For(t, "the session to go", func() bool { return h.srv.Len() == 0 })
			if len(r.msgs) != 0 {
				t.Fatal("a bad frame was delivered")
			}
		})
	}
}

func TestWebSocketMaxPayload(t *testing.T) {
	h := newHarness(t, Options{MaxPayload: 64})
	c, _, r := h.mustDial()
	fits := "4" + strings.Repeat("a", 63)
	c.Send(fits)
	if m := r.message(t); string(m.Data) != fits[1:] {
		t.Fatalf("received %q", m.Data)
	}
	c.Send(fits + "a")
	c.ExpectCloseStatus(ws.StatusMessageTooBig)
	r.closedWith(t, ReasonTransportError)
}

func TestWebSocketPingTimeout(t *testing.T) {
	h := newHarness(t, Options{PingInterval: 50 * time.Millisecond, PingTimeout: 50 * time.Millisecond})
	c, _, r := h.mustDial()
	c.Expect("2")
	c.ExpectClosed(nil)
	r.closedWith(t, ReasonPingTimeout)
	testwait.For(t, "the session to go", func() bool { return h.srv.Len() == 0 })
}

func TestWebSocketHeartbeat(t *testing.T) {
	h := newHarness(t, Options{PingInterval: 30 * time.Millisecond, PingTimeout: time.Second})
	c, _, r := h.mustDial()
	for range 5 {
		c.Expect("2")
		c.Send("3")
	}
	r.stillOpen(t)
	// A WebSocket ping is answered with a pong, outside Engine.IO.
	ws.WriteFrame(c.conn, ws.MaskFrame(ws.NewPingFrame([]byte("hey"))))
	c.conn.SetReadDeadline(time.Now().Add(waitFor))
	for {
		hdr, err := ws.ReadHeader(c.rw)
		if err != nil {
			t.Fatal(err)
		}
		payload := make([]byte, hdr.Length)
		if _, err := io.ReadFull(c.rw, payload); err != nil {
			t.Fatal(err)
		}
		if hdr.OpCode == ws.OpPong {
			if string(payload) != "hey" {
				t.Fatalf("pong %q", payload)
			}
			return
		}
		if string(payload) == "2" {
			c.Send("3")
		}
	}
}

func TestWebSocketClientClose(t *testing.T) {
	h := newHarness(t, Options{})
	c, _, r := h.mustDial()
	c.Send("1")
	c.ExpectClosed(nil)
	r.closedWith(t, ReasonTransportClose)
	testwait.For(t, "the session to go", func() bool { return h.srv.Len() == 0 })
}

func TestWebSocketServerClose(t *testing.T) {
	h := newHarness(t, Options{})
	c, _, r := h.mustDial()
	r.conn.Send(Message{Data: []byte("last")})
	r.conn.Close(ReasonForcedClose)
	c.Expect("4last")
	_, _, err := c.Read()
	var closed wsutil.ClosedError
	if !errors.As(err, &closed) || closed.Code != ws.StatusNormalClosure {
		t.Fatalf("after the last message: %v, want a close frame", err)
	}
	r.closedWith(t, ReasonForcedClose)
	if h.srv.Len() != 0 {
		t.Fatal("session kept")
	}
}

func TestSlowClient(t *testing.T) {
	h := newHarness(t, Options{MaxQueue: 16, MaxQueueBytes: 256 << 10})
	c, _, r := h.mustDial()
	// The client reads no more: the kernel's buffers fill, then the queue.
	big := Message{Data: bytes.Repeat([]byte("x"), 32<<10)}
	var err error
	sent := 0
	for ; sent < 100_000 && err == nil; sent++ {
		start := time.Now()
		err = r.conn.Send(big)
		if d := time.Since(start); d > time.Second {
			t.Fatalf("Send blocked for %v", d)
		}
	}
	if !errors.Is(err, ErrSlowClient) {
		t.Fatalf("after %d sends: %v, want ErrSlowClient", sent, err)
	}
	r.closedWith(t, ReasonSlowClient)
	if err := r.conn.Send(big); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after the close: %v", err)
	}
	testwait.For(t, "the session to go", func() bool { return h.srv.Len() == 0 })
	c.ExpectClosed(nil)
}

func TestPollingSlowClient(t *testing.T) {
	h := newHarness(t, Options{MaxQueue: 4})
	sid, r := h.handshake()
	for i := range 4 {
		if err := r.conn.Send(Message{Data: []byte("x")}); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if err := r.conn.Send(Message{Data: []byte("x")}); !errors.Is(err, ErrSlowClient) {
		t.Fatalf("5th send: %v", err)
	}
	r.closedWith(t, ReasonSlowClient)
	h.gone(sid)
}

func TestOrigins(t *testing.T) {
	const good, evil = "http://allowed.example", "http://evil.example"
	h := newHarness(t, Options{AllowedOrigins: []string{good}})
	origin := func(o string) http.Header { return http.Header{"Origin": {o}} }

	expectError(t, h.do("GET", h.url("polling", ""), "", origin(evil)), http.StatusForbidden, errForbidden)
	expectError(t, h.do("OPTIONS", h.url("polling", ""), "", origin(evil)), http.StatusForbidden, errForbidden)
	if _, err := h.dial("", origin(evil)); !isStatus(err, http.StatusForbidden) {
		t.Fatalf("websocket from a foreign origin: %v", err)
	}
	if h.srv.Len() != 0 {
		t.Fatal("a refused origin opened a session")
	}

	res := h.do("GET", h.url("polling", ""), "", origin(good))
	if res.status != 200 || res.header.Get("Access-Control-Allow-Origin") != good ||
		res.header.Get("Access-Control-Allow-Credentials") != "true" || !slices.Contains(res.header.Values("Vary"), "Origin") {
		t.Fatalf("allowed origin: %d %v", res.status, res.header)
	}
	pre := h.do("OPTIONS", h.url("polling", parseOpen(t, res.body).SID), "",
		http.Header{"Origin": {good}, "Access-Control-Request-Method": {"POST"}, "Access-Control-Request-Headers": {"content-type"}})
	if pre.status != http.StatusNoContent || pre.header.Get("Access-Control-Allow-Origin") != good ||
		!strings.Contains(pre.header.Get("Access-Control-Allow-Methods"), "POST") ||
		pre.header.Get("Access-Control-Allow-Headers") != "content-type" {
		t.Fatalf("preflight: %d %v", pre.status, pre.header)
	}
	if _, err := h.dial("", origin(good)); err != nil {
		t.Fatalf("websocket from an allowed origin: %v", err)
	}
	// Without Origin (not a browser): allowed, no CORS headers.
	if res := h.get(""); res.status != 200 || res.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("no origin: %d %v", res.status, res.header)
	}

	t.Run("same origin by default", func(t *testing.T) {
		h := newHarness(t, Options{})
		if res := h.do("GET", h.url("polling", ""), "", origin(h.ts.URL)); res.status != 200 {
			t.Fatalf("own origin: %d %s", res.status, res.body)
		}
		expectError(t, h.do("GET", h.url("polling", ""), "", origin(evil)), http.StatusForbidden, errForbidden)
		if _, err := h.dial("", origin(evil)); !isStatus(err, http.StatusForbidden) {
			t.Fatalf("websocket from a foreign origin: %v", err)
		}
	})
	t.Run("any", func(t *testing.T) {
		h := newHarness(t, Options{AllowedOrigins: []string{"*"}})
		if res := h.do("GET", h.url("polling", ""), "", origin(evil)); res.status != 200 || res.header.Get("Access-Control-Allow-Origin") != evil {
			t.Fatalf("any origin: %d %v", res.status, res.header)
		}
	})
}

func TestUpgrade(t *testing.T) {
	h := newHarness(t, Options{})
	sid, r := h.handshake()
	pending := h.pendingGet(sid)
	c, err := h.dial(sid, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.conn.Send(Message{Data: []byte("during")}) // still for polling
	c.Send("2probe")
	c.Expect("3probe")
	if res := receive(t, pending); res.status != 200 || res.body != "4during" {
		t.Fatalf("pending GET: %d %q", res.status, res.body)
	}
	// The next poll is ended with a noop, so the client can pause.
	h.expectGet(sid, "6")
	c.Send("5")
	testwait.For(t, "the transport to switch", func() bool { return r.conn.Transport() == "websocket" })

	r.conn.Send(Message{Data: []byte("over ws")})
	c.Expect("4over ws")
	c.Send("4from ws")
	if m := r.message(t); string(m.Data) != "from ws" {
		t.Fatalf("received %q", m.Data)
	}
	expectError(t, h.get(sid), 400, errBadRequest)
	expectError(t, h.post(sid, "4x"), 400, errBadRequest)
	r.stillOpen(t)
	c.Send("1")
	c.ExpectClosed(nil)
	r.closedWith(t, ReasonTransportClose)
}

func TestUpgradePendingGetGetsNoop(t *testing.T) {
	h := newHarness(t, Options{})
	sid, r := h.handshake()
	pending := h.pendingGet(sid)
	c, err := h.dial(sid, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Send("2probe")
	c.Expect("3probe")
	if res := receive(t, pending); res.status != 200 || res.body != "6" {
		t.Fatalf("pending GET: %d %q, want a noop", res.status, res.body)
	}
	c.Send("5")
	testwait.For(t, "the transport to switch", func() bool { return r.conn.Transport() == "websocket" })
	c.Send("2")
	c.Expect("3")
}

func TestUpgradeBadProbe(t *testing.T) {
	h := newHarness(t, Options{})
	sid, r := h.handshake()
	c, err := h.dial(sid, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Send("2nope")
	c.ExpectClosed(nil)
	// The session goes on over polling.
	r.stillOpen(t)
	h.post(sid, "2")
	h.expectGet(sid, "3")
	if r.conn.Transport() != "polling" {
		t.Fatal("transport switched")
	}
}

func TestShutdown(t *testing.T) {
	h := newHarness(t, Options{})
	sid, rp := h.handshake()
	c, _, rw := h.mustDial()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := h.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	rp.closedWith(t, ReasonServerShutdown)
	rw.closedWith(t, ReasonServerShutdown)
	h.expectGet(sid, "1")
	c.ExpectClosed(nil)
	expectError(t, h.get(""), http.StatusServiceUnavailable, errBadRequest)
	if _, err := h.dial("", nil); !isStatus(err, http.StatusServiceUnavailable) {
		t.Fatalf("websocket after shutdown: %v", err)
	}
	if n := h.srv.Len(); n != 0 {
		t.Fatalf("%d connections after shutdown", n)
	}
}

// Every connection opened while the server shuts down is closed, and told.
func TestShutdownDuringHandshakes(t *testing.T) {
	h := newHarness(t, Options{})
	h.opened = make(chan *recorder, 10_000)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if i%2 == 0 {
					h.client.Get(h.url("polling", ""))
				} else if c, err := h.dial("", nil); err == nil {
					c.conn.Close()
				}
			}
		})
	}
	time.Sleep(50 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := h.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	close(h.opened)
	n := 0
	for r := range h.opened {
		n++
		select {
		case <-r.conn.Done():
		case <-time.After(waitFor):
			t.Fatalf("connection %s never closed", r.conn.ID())
		}
	}
	if n == 0 {
		t.Fatal("no connection opened")
	}
}

// With WriteDelay, broadcasts (Batched) sent one by one to a WebSocket that
// was just written leave together once the delay has passed; the first one
// of a quiet connection leaves at once.
func TestWriteDelayCoalescesAFastStream(t *testing.T) {
	const delay = 200 * time.Millisecond
	h := newHarness(t, Options{WriteDelay: delay, PingInterval: time.Minute})
	c, _, r := h.mustDial()
	time.Sleep(2 * delay) // the open packet's write is long past: quiet

	before := h.writes.Load()
	start := time.Now()
	r.conn.Send(Message{Data: []byte("first"), Timing: Batched})
	c.Expect("4first")
	if took := time.Since(start); took > delay/2 {
		t.Fatalf("a quiet connection's message waited %v", took)
	}
	for _, m := range []string{"a", "b", "c", "d"} {
		r.conn.Send(Message{Data: []byte(m), Timing: Batched})
		time.Sleep(5 * time.Millisecond)
	}
	for _, m := range []string{"4a", "4b", "4c", "4d"} {
		c.Expect(m)
	}
	if n := h.writes.Load() - before; n != 2 {
		t.Fatalf("%d writes, want 2: the first message, then the four together", n)
	}
	if took := time.Since(start); took < delay || took > 2*delay {
		t.Fatalf("the stream took %v, want about WriteDelay (%v)", took, delay)
	}
}

// An Immediate message (an ack) does not wait for the write delay, and
// takes the broadcasts waiting before it along, in order, in one write.
func TestWriteDelayUrgentMessageLeavesAtOnce(t *testing.T) {
	const delay = 500 * time.Millisecond
	h := newHarness(t, Options{WriteDelay: delay, PingInterval: time.Minute})
	c, _, r := h.mustDial()
	time.Sleep(2 * delay)
	r.conn.Send(Message{Data: []byte("first"), Timing: Batched})
	c.Expect("4first")

	before := h.writes.Load()
	start := time.Now()
	r.conn.Send(Message{Data: []byte("waits"), Timing: Batched})
	time.Sleep(20 * time.Millisecond)
	r.conn.Send(Message{Data: []byte("ack")})
	c.Expect("4waits")
	c.Expect("4ack")
	if took := time.Since(start); took > delay/2 {
		t.Fatalf("the Immediate message took %v, want well under the delay (%v)", took, delay)
	}
	if n := h.writes.Load() - before; n != 1 {
		t.Fatalf("%d writes, want 1", n)
	}
}

// A Lazy message waits for something else to leave with, up to
// LazyDelay: alone it leaves after the delay; followed by a broadcast, it
// leaves with it, in order, in one write.
func TestLazyMessageRidesAlong(t *testing.T) {
	const lazy = 300 * time.Millisecond
	h := newHarness(t, Options{WriteDelay: 5 * time.Millisecond, LazyDelay: lazy, PingInterval: time.Minute})
	c, _, r := h.mustDial()
	time.Sleep(50 * time.Millisecond)

	start := time.Now()
	r.conn.Send(Message{Data: []byte("presence"), Timing: Lazy})
	c.Expect("4presence")
	if took := time.Since(start); took < lazy || took > 3*lazy {
		t.Fatalf("a Lazy message alone took %v, want about LazyDelay (%v)", took, lazy)
	}

	before := h.writes.Load()
	start = time.Now()
	r.conn.Send(Message{Data: []byte("presence 2"), Timing: Lazy})
	time.Sleep(20 * time.Millisecond)
	r.conn.Send(Message{Data: []byte("chat"), Timing: Batched})
	c.Expect("4presence 2")
	c.Expect("4chat")
	if took := time.Since(start); took > lazy/2 {
		t.Fatalf("with a broadcast behind it, the Lazy message took %v", took)
	}
	if n := h.writes.Load() - before; n != 1 {
		t.Fatalf("%d writes, want 1: both together", n)
	}
}

// The delay grows with the rate a connection is fed, up to MaxWriteDelay:
// a stream of 1,000 frames a second leaves in far fewer writes than with
// WriteDelay alone.
func TestWriteDelayGrowsWithTheRate(t *testing.T) {
	count := func(maxDelay time.Duration) int64 {
		h := newHarness(t, Options{WriteDelay: time.Millisecond, MaxWriteDelay: maxDelay, PingInterval: time.Minute})
		c, _, r := h.mustDial()
		before := h.writes.Load()
		for i := range 500 {
			r.conn.Send(Message{Data: []byte(fmt.Sprint(i)), Timing: Batched})
			time.Sleep(time.Millisecond)
		}
		for i := range 500 {
			c.Expect(fmt.Sprint("4", i))
		}
		return h.writes.Load() - before
	}
	fixed, grown := count(time.Millisecond), count(100*time.Millisecond)
	if grown*3 > fixed {
		t.Fatalf("%d writes with a growing delay, %d without: want a third or fewer", grown, fixed)
	}
}

// Above maxWriteRate frames a second a connection waits at least
// 1/maxWriteRate, so that a middling rate, where the growth alone would
// still mean a write per frame, costs at most maxWriteRate writes a second.
func TestWriteDelayBoundsTheWriteRate(t *testing.T) {
	const frames, gap = 135, 22 * time.Millisecond // about 45 frames/s for 3 s
	h := newHarness(t, Options{WriteDelay: time.Millisecond, MaxWriteDelay: 100 * time.Millisecond, PingInterval: time.Minute})
	c, _, r := h.mustDial()
	before := h.writes.Load()
	start := time.Now()
	for i := range frames {
		r.conn.Send(Message{Data: []byte(fmt.Sprint(i)), Timing: Batched})
		time.Sleep(gap)
	}
	for i := range frames {
		c.Expect(fmt.Sprint("4", i))
	}
	// The moving average takes a few writes to find the rate.
	limit := int64(time.Since(start).Seconds()*maxWriteRate*1.2) + 10
	n := h.writes.Load() - before
	t.Logf("%d writes for %d frames", n, frames)
	if n > limit {
		t.Fatalf("%d writes for %d frames in %v, want at most %d", n, frames, time.Since(start).Round(time.Millisecond), limit)
	}
}

func TestKeepHeaders(t *testing.T) {
	for _, tc := range []struct {
		keep []string
		want http.Header
	}{
		{nil, http.Header{"X-A": {"1"}, "X-B": {"2"}}},
		{[]string{"x-a", "x-missing"}, http.Header{"X-A": {"1"}}},
		{[]string{}, http.Header{}},
	} {
		h := newHarness(t, Options{KeepHeaders: tc.keep})
		res := h.do("GET", h.url("polling", "")+"&extra=yes", "", http.Header{"X-A": {"1"}, "X-B": {"2"}})
		if res.status != http.StatusOK {
			t.Fatalf("handshake: %d %s", res.status, res.body)
		}
		info := h.accept().conn.Request()
		got := http.Header{}
		for k, v := range info.Header {
			if strings.HasPrefix(k, "X-") {
				got[k] = v
			}
		}
		if !reflect.DeepEqual(got, tc.want) || (tc.keep != nil && len(info.Header) != len(tc.want)) {
			t.Errorf("KeepHeaders %q: kept %v, want %v", tc.keep, info.Header, tc.want)
		}
		if info.Query.Get("extra") != "yes" || info.Query.Get("EIO") != "4" || info.RemoteAddr == "" || info.Time.IsZero() {
			t.Errorf("request info %+v", info)
		}
	}
}
