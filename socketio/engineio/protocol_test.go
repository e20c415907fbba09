package engineio

// The behaviours the official Engine.IO protocol test suite checks that
// the tests of server_test.go did not hold (the suite lives outside the
// repository, in ../shared/protocol-suites), and the answers given to
// clients that speak what the server does not: each in the suite's order
// of requests, so that a regression fails here first.

import (
	"bytes"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/globalchat/globalchat/internal/testwait"
)

// refusals records what a server reports through Options.Refused.
type refusals chan Refusal

func (rs refusals) hook(r Refusal) { rs <- r }

// expect checks the next refusal's reason and address.
func (rs refusals) expect(t *testing.T, reason string) Refusal {
	t.Helper()
	select {
	case r := <-rs:
		if r.Reason != reason || r.Addr != "127.0.0.1" {
			t.Fatalf("refusal %+v, want %q from 127.0.0.1", r, reason)
		}
		return r
	default:
		t.Fatalf("no refusal reported (want %q)", reason)
		return Refusal{}
	}
}

// upgraded opens a polling session and moves it to WebSocket without
// waiting for anything but the WebSocket's handshake: the client sends
// "2probe" and "5" at once, as the suite does.
func upgraded(t *testing.T, h *harness) (string, *recorder, *wsClient) {
	t.Helper()
	sid, r := h.handshake()
	c, err := h.dial(sid, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Send("2probe")
	c.Send("5")
	return sid, r, c
}

// suite: "ignores HTTP requests with same sid after upgrade".
func TestPollingRightAfterUpgradeIsRefused(t *testing.T) {
	h := newHarness(t, Options{})
	sid, r, c := upgraded(t, h)
	expectError(t, h.get(sid), http.StatusBadRequest, errBadRequest)
	expectError(t, h.post(sid, "4x"), http.StatusBadRequest, errBadRequest)
	c.Expect("3probe")
	c.Send("4hello")
	if m := r.message(t); string(m.Data) != "hello" {
		t.Fatalf("received %q", m.Data)
	}
	r.stillOpen(t)
}

// suite: "ignores WebSocket connection with same sid after upgrade": the
// second WebSocket is accepted, then closed; the first goes on.
func TestSecondWebSocketAfterUpgradeIsClosed(t *testing.T) {
	h := newHarness(t, Options{})
	sid, r, c := upgraded(t, h)
	c.Expect("3probe")
	testwait.For(t, "the transport to switch", func() bool { return r.conn.Transport() == "websocket" })
	second, err := h.dial(sid, nil)
	if err != nil {
		t.Fatalf("second WebSocket refused at the handshake: %v", err)
	}
	second.ExpectCloseStatus(ws.StatusNormalClosure)
	c.Send("4hello")
	if m := r.message(t); string(m.Data) != "hello" {
		t.Fatalf("received %q", m.Data)
	}
	r.stillOpen(t)
}

// A second WebSocket while the first is still probing is closed too.
func TestSecondWebSocketDuringUpgradeIsClosed(t *testing.T) {
	h := newHarness(t, Options{})
	sid, r := h.handshake()
	c, err := h.dial(sid, nil)
	if err != nil {
		t.Fatal(err)
	}
	testwait.For(t, "the upgrade to start", func() bool {
		r.conn.mu.Lock()
		defer r.conn.mu.Unlock()
		return r.conn.upgrading
	})
	second, err := h.dial(sid, nil)
	if err != nil {
		t.Fatalf("second WebSocket refused at the handshake: %v", err)
	}
	second.ExpectCloseStatus(ws.StatusNormalClosure)
	c.Send("2probe")
	c.Expect("3probe")
	c.Send("5")
	testwait.For(t, "the transport to switch", func() bool { return r.conn.Transport() == "websocket" })
}

// suite: "successfully upgrades": a GET sent after the probe's answer, and
// before "5", gets a noop (it waits up to upgradeGrace for the "5").
func TestPollAfterProbeGetsNoop(t *testing.T) {
	h := newHarness(t, Options{})
	sid, r := h.handshake()
	c, err := h.dial(sid, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Send("2probe")
	c.Expect("3probe")
	h.expectGet(sid, "6")
	c.Send("5")
	c.Send("4hello")
	if m := r.message(t); string(m.Data) != "hello" {
		t.Fatalf("received %q", m.Data)
	}
}

// suite: "forcefully closes the session" (polling), when the close POST
// is read before the GET sent with it: the GET still gets its noop, the
// next one a 400.
func TestPollingCloseBeforeItsGet(t *testing.T) {
	h := newHarness(t, Options{})
	sid, r := h.handshake()
	if res := h.post(sid, "1"); res.status != http.StatusOK {
		t.Fatalf("POST close: %d %q", res.status, res.body)
	}
	r.closedWith(t, ReasonTransportClose)
	h.expectGet(sid, "6")
	h.gone(sid)
}

// An old client (socket.io-client 2.x speaks Engine.IO 3) gets the spec's
// answer, HTTP 400 with code 5, and the refusal is reported.
func TestUnsupportedVersionIsReported(t *testing.T) {
	rs := make(refusals, 8)
	h := newHarness(t, Options{Refused: rs.hook})
	res := h.do("GET", h.ts.URL+"/engine.io/?EIO=3&transport=polling", "", nil)
	expectError(t, res, http.StatusBadRequest, errUnsupportedVersion)
	if !strings.Contains(res.body, "Unsupported protocol version") {
		t.Fatalf("body %q", res.body)
	}
	if r := rs.expect(t, RefusedVersion); r.Detail != "EIO=3" {
		t.Fatalf("detail %q", r.Detail)
	}
	long := strings.Repeat("é", 100)
	h.do("GET", h.ts.URL+"/engine.io/?transport=websocket&EIO="+long, "", nil)
	if r := rs.expect(t, RefusedVersion); len(r.Detail) > maxDetail {
		t.Fatalf("detail of %d bytes", len(r.Detail))
	}
}

// Behind a trusted proxy, a refusal names the client the proxy names, not
// the proxy: log sampling keys by it.
func TestRefusalNamesTheProxiedClient(t *testing.T) {
	rs := make(refusals, 8)
	loopback := netip.MustParsePrefix("127.0.0.0/8")
	h := newHarness(t, Options{Refused: rs.hook, Limits: Limits{TrustedProxies: []netip.Prefix{loopback}}})
	h.do("GET", h.ts.URL+"/engine.io/?EIO=3&transport=polling", "", http.Header{"X-Forwarded-For": {"203.0.113.7"}})
	select {
	case r := <-rs:
		if r.Reason != RefusedVersion || r.Addr != "203.0.113.7" {
			t.Fatalf("refusal %+v, want %q from the proxied client", r, RefusedVersion)
		}
	default:
		t.Fatal("no refusal reported")
	}
}

// A message over maxPayload ends the WebSocket with 1009 (what socket.io's
// server sends, and its clients report), whole or in fragments, however
// long its header says it is.
func TestWebSocketTooBigClosesWith1009(t *testing.T) {
	for name, frame := range map[string][]byte{
		"over maxPayload":      ws.MustCompileFrame(ws.MaskFrame(ws.NewTextFrame(bytes.Repeat([]byte("4"), 65)))),
		"fragments over it":    append(ws.MustCompileFrame(ws.MaskFrame(ws.NewFrame(ws.OpText, false, bytes.Repeat([]byte("4"), 40)))), ws.MustCompileFrame(ws.MaskFrame(ws.NewFrame(ws.OpContinuation, true, bytes.Repeat([]byte("4"), 40))))...),
		"binary over it":       ws.MustCompileFrame(ws.MaskFrame(ws.NewBinaryFrame(bytes.Repeat([]byte{1}, 65)))),
		"huge declared length": {0x81, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4},
	} {
		t.Run(name, func(t *testing.T) {
			rs := make(refusals, 8)
			h := newHarness(t, Options{MaxPayload: 64, Refused: rs.hook})
			c, _, r := h.mustDial()
			r.conn.Send(Message{Data: []byte("dropped")}) // may leave before the close, or not
			c.conn.Write(frame)
			c.ExpectCloseStatus(ws.StatusMessageTooBig)
			r.closedWith(t, ReasonTransportError)
			testwait.For(t, "the session to go", func() bool { return h.srv.Len() == 0 })
			if len(r.msgs) != 0 {
				t.Fatal("an oversize message was delivered")
			}
			rs.expect(t, RefusedTooBig)
		})
	}
}

// The close frame is not lost when the client is still sending the rest
// of its oversize message: the server reads it away before closing.
func TestWebSocketTooBigCloseSurvivesTheRest(t *testing.T) {
	h := newHarness(t, Options{MaxPayload: 1000})
	c, _, r := h.mustDial()
	big := ws.MustCompileFrame(ws.MaskFrame(ws.NewTextFrame(bytes.Repeat([]byte("4"), 1<<20))))
	go c.conn.Write(big)
	c.ExpectCloseStatus(ws.StatusMessageTooBig)
	r.closedWith(t, ReasonTransportError)
}

// RFC 6455 5.5: a control frame carries at most 125 bytes and is never
// fragmented; a longer or fragmented one is a protocol error (1002), not
// echoed back.
func TestWebSocketControlFrameLimits(t *testing.T) {
	t.Run("125 bytes ping answered", func(t *testing.T) {
		h := newHarness(t, Options{})
		c, _, r := h.mustDial()
		payload := bytes.Repeat([]byte("p"), 125)
		c.conn.Write(ws.MustCompileFrame(ws.MaskFrame(ws.NewPingFrame(payload))))
		c.conn.Write(ws.MustCompileFrame(ws.MaskFrame(ws.NewTextFrame([]byte("4after")))))
		c.conn.SetReadDeadline(time.Now().Add(waitFor))
		//lint:ignore SA1019 the test reads frames of its own server, whose sizes it knows
		pong, err := ws.ReadFrame(c.rw)
		if err != nil || pong.Header.OpCode != ws.OpPong || !bytes.Equal(pong.Payload, payload) {
			t.Fatalf("pong: %v %v %d bytes", err, pong.Header.OpCode, len(pong.Payload))
		}
		if m := r.message(t); string(m.Data) != "after" {
			t.Fatalf("received %q", m.Data)
		}
	})
	for name, frame := range map[string][]byte{
		"126 bytes ping":  ws.MustCompileFrame(ws.MaskFrame(ws.NewPingFrame(bytes.Repeat([]byte("p"), 126)))),
		"1 MB ping":       ws.MustCompileFrame(ws.MaskFrame(ws.NewPingFrame(bytes.Repeat([]byte("p"), 1<<20)))),
		"126 bytes pong":  ws.MustCompileFrame(ws.MaskFrame(ws.NewPongFrame(bytes.Repeat([]byte("p"), 126)))),
		"fragmented ping": ws.MustCompileFrame(ws.MaskFrame(ws.NewFrame(ws.OpPing, false, []byte("p")))),
	} {
		t.Run(name, func(t *testing.T) {
			rs := make(refusals, 8)
			h := newHarness(t, Options{Refused: rs.hook})
			c, _, r := h.mustDial()
			go c.conn.Write(frame)
			c.ExpectCloseStatus(ws.StatusProtocolError)
			r.closedWith(t, ReasonTransportError)
			rs.expect(t, RefusedControlFrame)
		})
	}
}

// A probe that breaks the limits is closed with its status, and the
// session goes on over polling.
func TestProbeTooBigClosesOnlyTheProbe(t *testing.T) {
	rs := make(refusals, 8)
	h := newHarness(t, Options{MaxPayload: 64, Refused: rs.hook})
	sid, r := h.handshake()
	c, err := h.dial(sid, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Send("2probe" + strings.Repeat("x", 64))
	c.ExpectCloseStatus(ws.StatusMessageTooBig)
	rs.expect(t, RefusedTooBig)
	h.post(sid, "2")
	h.expectGet(sid, "3")
	r.stillOpen(t)
}

// lateTimer stops a session's heartbeat timer and sets its schedule, as a
// loaded machine leaves it when the timer is due but has not run.
func lateTimer(c *Conn, awaitingPong bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.timer.Stop()
	c.awaitingPong = awaitingPong
	c.lastPing = time.Now().Add(-time.Second)
	c.nextBeat = time.Now().Add(-time.Millisecond)
}

// suite: "closes the session upon ping timeout" (polling): a poll that
// comes after the pong's deadline finds the session gone, even when the
// timer that should have closed it has not run yet.
func TestPollAfterThePingDeadlineFindsTheSessionGone(t *testing.T) {
	h := newHarness(t, Options{})
	sid, r := h.handshake()
	lateTimer(r.conn, true)
	expectError(t, h.get(sid), http.StatusBadRequest, errSessionUnknown)
	r.closedWith(t, ReasonPingTimeout)
}

// A poll that comes when a ping is due gets it, timer or not.
func TestPollWhenAPingIsDueGetsIt(t *testing.T) {
	h := newHarness(t, Options{})
	sid, r := h.handshake()
	lateTimer(r.conn, false)
	h.expectGet(sid, "2")
	h.post(sid, "3")
	r.stillOpen(t)
}

// suite: "sends ping/pong packets": pings keep to pingInterval whatever
// time the client takes to answer (within pingTimeout), so that three of
// them come within 3 x pingInterval of the handshake.
func TestPingsKeepToTheInterval(t *testing.T) {
	const interval = 300 * time.Millisecond
	h := newHarness(t, Options{PingInterval: interval, PingTimeout: time.Second})
	c, _, r := h.mustDial()
	start := time.Now()
	for range 3 {
		c.Expect("2")
		time.Sleep(interval / 2) // a slow pong
		c.Send("3")
	}
	if took := time.Since(start); took > 3*interval+interval {
		t.Fatalf("3 pings took %v, want about %v (not %v: the pong's delay added each time)", took, 3*interval+interval/2, 4*interval+interval/2)
	}
	r.stillOpen(t)
}

// suite: "should send ping/pong packets" (Socket.IO, polling), when the
// connect timeout closes the session as a pong is on its way: the pong's
// POST is still taken, as on the reference server, until the close
// packet is polled.
func TestPollingPostWhileTheServerCloses(t *testing.T) {
	h := newHarness(t, Options{})
	sid, r := h.handshake()
	r.conn.Close(ReasonForcedClose)
	r.closedWith(t, ReasonForcedClose)
	if res := h.post(sid, "3"); res.status != http.StatusOK || res.body != "ok" {
		t.Fatalf("POST while closing: %d %q", res.status, res.body)
	}
	if res := h.post(sid, "4late"); res.status != http.StatusOK {
		t.Fatalf("POST while closing: %d %q", res.status, res.body)
	}
	h.expectGet(sid, "1")
	expectError(t, h.post(sid, "3"), http.StatusBadRequest, errSessionUnknown)
	if len(r.msgs) != 0 {
		t.Fatal("a message after the close was delivered")
	}
}
