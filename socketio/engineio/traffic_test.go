package engineio

import (
	"sync"
	"testing"
	"time"

	"github.com/globalchat/globalchat/internal/testwait"
)

// countTraffic is a Traffic for tests.
type countTraffic struct {
	mu sync.Mutex
	n  counts
}

// counts are what a countTraffic counted.
type counts struct {
	in, out, pktIn, pktOut [2]int // by websocket
	opened, closed         int
	delivered              int
}

func idx(websocket bool) int {
	if websocket {
		return 1
	}
	return 0
}

func (c *countTraffic) Received(websocket bool, packets, bytes int) {
	c.mu.Lock()
	c.n.in[idx(websocket)] += bytes
	c.n.pktIn[idx(websocket)] += packets
	c.mu.Unlock()
}

func (c *countTraffic) Sent(websocket bool, packets, bytes int) {
	c.mu.Lock()
	c.n.out[idx(websocket)] += bytes
	c.n.pktOut[idx(websocket)] += packets
	c.mu.Unlock()
}

func (c *countTraffic) Opened() { c.mu.Lock(); c.n.opened++; c.mu.Unlock() }
func (c *countTraffic) Closed() { c.mu.Lock(); c.n.closed++; c.mu.Unlock() }
func (c *countTraffic) Delivered(d time.Duration) {
	c.mu.Lock()
	if d > 0 && d < time.Minute {
		c.n.delivered++
	}
	c.mu.Unlock()
}

func (c *countTraffic) get() counts {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// TestTrafficCountsPayloads: the bytes counted are the polling bodies and
// the WebSocket message payloads, as the client sees them.
func TestTrafficCountsPayloads(t *testing.T) {
	tr := &countTraffic{}
	h := newHarness(t, Options{Traffic: tr})
	res := h.get("")
	sid := parseOpen(t, res.body).SID
	rec := h.accept()
	h.post(sid, "4hello\x1e4world")
	rec.message(t)
	rec.message(t)
	rec.conn.Send(Message{Data: []byte("abc")})
	poll := h.get(sid)
	got := tr.get()
	wantIn, wantOut := len("4hello\x1e4world"), len(res.body)+len(poll.body)
	if got.in[0] != wantIn || got.out[0] != wantOut || got.pktIn[0] != 2 || got.pktOut[0] != 2 || got.opened != 1 {
		t.Fatalf("polling: %+v, want in %d out %d", got, wantIn, wantOut)
	}

	c, open, wrec := h.mustDial()
	c.Send("4ping me")
	wrec.message(t)
	wrec.conn.Send(Message{Data: []byte("pong"), Emitted: time.Now().UnixNano()}, Message{Data: []byte{1, 2}, Binary: true})
	c.Expect("4pong")
	c.Read()
	openLen := len(h.srv.openPacket(open.SID, false)) + 1
	testwait.For(t, "websocket counts", func() bool {
		g := tr.get()
		return g.in[1] == len("4ping me") && g.out[1] == openLen+len("4pong")+2 && g.pktOut[1] == 3 && g.delivered == 1
	})
	wrec.conn.Close(ReasonServerShutdown)
	testwait.For(t, "closed", func() bool { return tr.get().closed == 1 })
}
