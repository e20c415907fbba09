package bandwidth

import (
	"sync/atomic"
	"time"
)

// Endpoint is where traffic is counted.
type Endpoint uint8

// The endpoints: the two Engine.IO transports, each REST route, the
// static web client, and the operator's routes (health, readiness,
// metrics, admin).
const (
	WebSocket Endpoint = iota
	Polling
	APIMessages
	APIOnlineUsers
	Static
	Ops
	numEndpoints
)

var endpointNames = [numEndpoints]string{"websocket", "polling", "api-messages", "api-online-users", "static", "ops"}

// String is the endpoint's name in keys, fields and labels.
func (e Endpoint) String() string {
	if e >= numEndpoints {
		return "unknown"
	}
	return endpointNames[e]
}

// Endpoints lists every endpoint, in a fixed order.
func Endpoints() []Endpoint {
	out := make([]Endpoint, numEndpoints)
	for i := range out {
		out[i] = Endpoint(i)
	}
	return out
}

// counters of one endpoint, padded to a cache line of their own so that
// the transports' writers do not share one.
type counters struct {
	bytesIn, bytesOut, framesIn, framesOut atomic.Uint64
	_                                      [32]byte
}

// Meter counts traffic with atomic adds only: it is safe for concurrent
// use and cheap enough to call for every write. A nil *Meter counts
// nothing.
type Meter struct {
	eps                      [numEndpoints]counters
	msgsIn, msgsOut          atomic.Uint64
	connsOpened, connsClosed atomic.Uint64
	delivery                 latencies
}

// NewMeter returns a Meter at zero.
func NewMeter() *Meter { return new(Meter) }

// In counts frames and bytes received on an endpoint.
func (m *Meter) In(e Endpoint, frames, bytes int) {
	if m == nil || e >= numEndpoints {
		return
	}
	m.eps[e].framesIn.Add(uint64(frames))
	m.eps[e].bytesIn.Add(uint64(bytes))
}

// Out counts frames and bytes sent on an endpoint.
func (m *Meter) Out(e Endpoint, frames, bytes int) {
	if m == nil || e >= numEndpoints {
		return
	}
	m.eps[e].framesOut.Add(uint64(frames))
	m.eps[e].bytesOut.Add(uint64(bytes))
}

// Received counts Engine.IO packets read from a client (engineio.Traffic).
func (m *Meter) Received(websocket bool, packets, bytes int) {
	m.In(transport(websocket), packets, bytes)
}

// Sent counts Engine.IO packets written to a client (engineio.Traffic).
func (m *Meter) Sent(websocket bool, packets, bytes int) {
	m.Out(transport(websocket), packets, bytes)
}

func transport(websocket bool) Endpoint {
	if websocket {
		return WebSocket
	}
	return Polling
}

// Opened counts a new connection (engineio.Traffic).
func (m *Meter) Opened() {
	if m != nil {
		m.connsOpened.Add(1)
	}
}

// Closed counts a connection's end (engineio.Traffic).
func (m *Meter) Closed() {
	if m != nil {
		m.connsClosed.Add(1)
	}
}

// Delivered counts one broadcast written to a client, latency after it
// was emitted (engineio.Traffic).
func (m *Meter) Delivered(latency time.Duration) {
	if m != nil {
		m.delivery.observe(latency)
	}
}

// MessageIn counts a chat message received from a client.
func (m *Meter) MessageIn() {
	if m != nil {
		m.msgsIn.Add(1)
	}
}

// MessagesOut counts chat messages delivered to n sockets.
func (m *Meter) MessagesOut(n int) {
	if m != nil && n > 0 {
		m.msgsOut.Add(uint64(n))
	}
}

// Totals are a Meter's counters at one moment, since it started.
type Totals struct {
	Endpoints                [numEndpoints]Traffic
	MessagesIn, MessagesOut  uint64
	ConnsOpened, ConnsClosed uint64
	Delivery                 Latency
}

// Traffic is what crossed one endpoint.
type Traffic struct {
	BytesIn, BytesOut, FramesIn, FramesOut uint64
}

// Totals reads the counters.
func (m *Meter) Totals() Totals {
	var t Totals
	if m == nil {
		return t
	}
	for i := range m.eps {
		c := &m.eps[i]
		t.Endpoints[i] = Traffic{c.bytesIn.Load(), c.bytesOut.Load(), c.framesIn.Load(), c.framesOut.Load()}
	}
	t.MessagesIn, t.MessagesOut = m.msgsIn.Load(), m.msgsOut.Load()
	t.ConnsOpened, t.ConnsClosed = m.connsOpened.Load(), m.connsClosed.Load()
	t.Delivery = m.delivery.read()
	return t
}

// sub returns what a moved since b.
func (a Traffic) sub(b Traffic) Traffic {
	return Traffic{a.BytesIn - b.BytesIn, a.BytesOut - b.BytesOut, a.FramesIn - b.FramesIn, a.FramesOut - b.FramesOut}
}

func (a Traffic) add(b Traffic) Traffic {
	return Traffic{a.BytesIn + b.BytesIn, a.BytesOut + b.BytesOut, a.FramesIn + b.FramesIn, a.FramesOut + b.FramesOut}
}

// Sub returns what moved between b and a (a later).
func (a Totals) Sub(b Totals) Totals {
	var d Totals
	for i := range a.Endpoints {
		d.Endpoints[i] = a.Endpoints[i].sub(b.Endpoints[i])
	}
	d.MessagesIn, d.MessagesOut = a.MessagesIn-b.MessagesIn, a.MessagesOut-b.MessagesOut
	d.ConnsOpened, d.ConnsClosed = a.ConnsOpened-b.ConnsOpened, a.ConnsClosed-b.ConnsClosed
	d.Delivery = a.Delivery.sub(b.Delivery)
	return d
}

// All is the sum over endpoints.
func (a Totals) All() Traffic {
	var s Traffic
	for _, t := range a.Endpoints {
		s = s.add(t)
	}
	return s
}
