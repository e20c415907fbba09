package engineio

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Reason says why a connection closed.
type Reason string

// The reasons a connection closes, as the reference server names them,
// plus ReasonSlowClient.
const (
	ReasonTransportClose Reason = "transport close"
	ReasonTransportError Reason = "transport error"
	ReasonPingTimeout    Reason = "ping timeout"
	ReasonParseError     Reason = "parse error"
	ReasonForcedClose    Reason = "forced close"
	ReasonServerShutdown Reason = "server shutting down"
	// ReasonSlowClient: the connection's outbound queue overflowed.
	ReasonSlowClient Reason = "slow client"
)

// ErrClosed is returned by Send on a closed connection.
var ErrClosed = errors.New("engineio: connection closed")

// ErrSlowClient is returned by Send when the queue overflowed; the
// connection is being closed.
var ErrSlowClient = errors.New("engineio: outbound queue full")

// Timing says when a message sent may leave.
type Timing uint8

const (
	// Immediate: the message leaves at once (an answer the client waits
	// for), taking everything queued before it along.
	Immediate Timing = iota
	// Batched: the message may wait, up to the connection's write delay,
	// for company in the same write (broadcasts).
	Batched
	// Lazy: the message may wait up to the server's LazyDelay for a write
	// that carries something else (informational broadcasts: presence,
	// typing). On a connection written more often than that, it costs no
	// write of its own.
	Lazy
)

// Message is one Engine.IO message to send. Data is not copied: it must
// not change after Send (a broadcast shares it between connections).
type Message struct {
	Data   []byte
	Binary bool
	Timing Timing
	// Emitted, when not 0, is when the message was emitted (unix ns):
	// Traffic.Delivered gets the time from then to its write.
	Emitted int64
}

// RequestInfo is what a connection keeps of its handshake request.
type RequestInfo struct {
	Header     http.Header
	Query      url.Values
	RemoteAddr string
	// ClientAddr is the client's IP address: the peer's, or the one a
	// trusted proxy named (see ClientAddr).
	ClientAddr string
	Time       time.Time
}

type transportKind uint8

const (
	transportPolling transportKind = iota
	transportWebSocket
)

// Conn is one Engine.IO connection (a session), whatever its transport.
type Conn struct {
	srv *Server
	id  string
	// What is kept of the handshake request: the query stays raw until
	// asked for, since most connections never are.
	header     http.Header
	rawQuery   string
	remoteAddr string
	addr, key  string // client address, and what the limits count it by
	opened     time.Time
	recv       Receiver
	silence    *time.Timer // FirstMessageTimeout; set before the conn is shared
	marked     atomic.Bool // connected above, or released: out of the unconnected count

	recvMu     sync.Mutex // one OnMessage at a time; none after OnClose
	recvClosed bool
	greeted    atomic.Bool // the first message has come (see admission)

	mu           sync.Mutex
	transport    transportKind
	out          outbox // what waits to be sent, and the pace of WebSocket writes
	closed       bool
	wake         chan struct{} // wakes a pending poll
	polling      bool          // a GET is pending
	posting      bool          // a POST is being read
	upgrading    bool          // a WebSocket is probing, until it switches or fails
	probed       bool          // the probe is answered: the client pauses polling
	pendingClose bool          // a close packet is due once the queue has drained
	noopDue      bool          // closed by the client over polling with no GET pending
	ws           *wsTransport
	timer        *time.Timer
	awaitingPong bool
	nextBeat     time.Time // when heartbeat is due: the next ping, or the pong's deadline
	lastPing     time.Time // when the last ping was due
	done         chan struct{}
}

func newConn(s *Server, id string, r *http.Request) *Conn {
	return &Conn{
		srv: s, id: id,
		header: keptHeaders(r.Header, s.opts.KeepHeaders), rawQuery: r.URL.RawQuery,
		remoteAddr: r.RemoteAddr, opened: time.Now(),
		wake: make(chan struct{}, 1),
		done: make(chan struct{}),
		out:  outbox{delay: s.opts.WriteDelay},
	}
}

// ID returns the session id.
func (c *Conn) ID() string { return c.id }

// Request returns what was kept of the handshake request.
func (c *Conn) Request() RequestInfo {
	q, _ := url.ParseQuery(c.rawQuery) // parsed once already, by the handshake
	return RequestInfo{Header: c.header, Query: q, RemoteAddr: c.remoteAddr, ClientAddr: c.addr, Time: c.opened}
}

// MarkConnected tells that the layer above has set the session up (for
// Socket.IO, a namespace is connected): it no longer counts towards
// Limits.MaxUnconnected.
func (c *Conn) MarkConnected() {
	if c.marked.CompareAndSwap(false, true) {
		c.srv.addrs.connected()
	}
}

// silent closes a session whose first message has not come in time.
func (c *Conn) silent() {
	if !c.greeted.Load() {
		c.srv.refuse(RefusedSilent, c.addr, "")
		c.abort(ReasonForcedClose)
	}
}

// keptHeaders copies the headers a connection keeps: all when keep is
// nil, else those named (a browser's cookies and the like would cost
// every connection a kilobyte or more for nothing).
func keptHeaders(h http.Header, keep []string) http.Header {
	if keep == nil {
		return h.Clone()
	}
	kept := http.Header{}
	for _, k := range keep {
		if v := h.Values(k); len(v) > 0 {
			kept[http.CanonicalHeaderKey(k)] = slices.Clone(v)
		}
	}
	return kept
}

// Transport returns "polling" or "websocket".
func (c *Conn) Transport() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.transport == transportWebSocket {
		return "websocket"
	}
	return "polling"
}

// Done is closed once the connection is closed and OnClose has returned.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Send queues messages to leave together, in order. It never blocks: when
// the queue is over its bound the connection is closed with
// ReasonSlowClient and ErrSlowClient returned.
func (c *Conn) Send(msgs ...Message) error {
	var small [4]frame
	frames := small[:0]
	timing := Lazy
	for _, m := range msgs {
		frames = append(frames, frame{typ: typeMessage, data: m.Data, binary: m.Binary, emitted: m.Emitted})
		timing = min(timing, m.Timing) // one Immediate message takes the others along
	}
	return c.enqueueFrames(timing, frames...)
}

// enqueue queues frames of the Engine.IO layer itself, which never wait.
func (c *Conn) enqueue(frames ...frame) error { return c.enqueueFrames(Immediate, frames...) }

func (c *Conn) enqueueFrames(timing Timing, frames ...frame) error {
	size := 0
	for _, f := range frames {
		size += f.size()
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	if !c.out.fits(len(frames), size, c.srv.opts.MaxQueue, c.srv.opts.MaxQueueBytes) {
		c.mu.Unlock()
		// Closed from another goroutine: the caller may hold locks (a
		// broadcast walking a room) that closing needs.
		go c.abort(ReasonSlowClient)
		return ErrSlowClient
	}
	c.out.push(timing, size, frames...)
	c.kickLocked()
	c.mu.Unlock()
	return nil
}

// receive hands one packet received from the client to the right place.
func (c *Conn) receive(p packet) {
	switch p.typ {
	case typeMessage:
		// The first message sets the session up above: it is part of
		// opening the connection. Past the wait it goes ahead anyway:
		// the connection exists, and refusing it would only bring the
		// client back to open another.
		if !c.greeted.Swap(true) {
			if c.silence != nil {
				c.silence.Stop()
			}
			if leave := c.srv.opening.enter(c.done, true); leave != nil {
				defer leave()
			}
		}
		c.recvMu.Lock()
		if !c.recvClosed {
			c.recv.OnMessage(p.data, p.binary)
		}
		c.recvMu.Unlock()
	case typePing:
		c.enqueue(frame{typ: typePong, data: p.data})
	case typePong:
		c.pong()
	case typeClose:
		c.clientClose()
	default:
		// open, upgrade and noop from a client outside an upgrade mean a
		// broken client: end it, as the spec says for invalid packets.
		c.abort(ReasonParseError)
	}
}

func (c *Conn) startHeartbeat() {
	c.mu.Lock()
	c.nextBeat = time.Now().Add(c.srv.opts.PingInterval)
	c.timer = time.AfterFunc(c.srv.opts.PingInterval, c.heartbeat)
	c.mu.Unlock()
}

// heartbeat sends a ping, or closes the connection when the previous one
// got no pong within pingTimeout, once nextBeat has come. It keeps to
// the schedule rather than to when its timer fires: pings go out every
// pingInterval, and a session is dead pingTimeout after its ping was due,
// however late a loaded machine runs the timer (see catchUp).
func (c *Conn) heartbeat() {
	c.mu.Lock()
	if c.closed || c.timer == nil {
		c.mu.Unlock()
		return
	}
	now := time.Now()
	if now.Before(c.nextBeat) { // run early by catchUp, or rescheduled by a pong
		c.timer.Reset(c.nextBeat.Sub(now))
		c.mu.Unlock()
		return
	}
	if c.awaitingPong {
		c.mu.Unlock()
		c.abort(ReasonPingTimeout)
		return
	}
	c.awaitingPong = true
	c.lastPing = c.nextBeat
	c.nextBeat = c.lastPing.Add(c.srv.opts.PingTimeout)
	c.timer.Reset(c.nextBeat.Sub(now))
	c.mu.Unlock()
	c.enqueue(frame{typ: typePing})
}

// catchUp runs a heartbeat that is due before the request at hand is
// served, as the reference server's event loop runs due timers before it
// reads: a poll that comes after a session's ping timeout finds it gone,
// and one that comes when a ping is due gets it.
func (c *Conn) catchUp() { c.heartbeat() }

func (c *Conn) pong() {
	c.mu.Lock()
	if c.awaitingPong && !c.closed {
		c.awaitingPong = false
		now := time.Now()
		c.nextBeat = c.lastPing.Add(c.srv.opts.PingInterval)
		if c.nextBeat.Before(now) {
			c.nextBeat = now
		}
		c.timer.Reset(c.nextBeat.Sub(now))
	}
	c.mu.Unlock()
}

// noopGrace bounds how long a session closed by its client over polling
// waits for the GET sent with the close (see clientClose).
const noopGrace = time.Second

// clientClose ends the session at the client's request. Over polling the
// client may have sent a GET along with its close packet: that GET gets a
// noop even when it comes after the POST, as it does on the reference
// server, which reads one request at a time; the session goes with that
// GET, or after PingTimeout.
func (c *Conn) clientClose() {
	c.mu.Lock()
	if c.transport == transportPolling && !c.polling && !c.closed {
		c.noopDue = true
	}
	c.mu.Unlock()
	c.abort(ReasonTransportClose)
}

// Close closes the connection from the server's side: what is queued
// still leaves, followed by a close packet.
func (c *Conn) Close(reason Reason) { c.close(reason, true) }

// Drain closes the connection as Close does, once the message being
// handled (if any) is done, so that its answers, such as the ack of a
// chat message being stored, leave before the close packet; messages that
// arrive after it are not handled (their sender, told nothing, sends them
// again after reconnecting). It may wait for that message's handler: call
// it from a goroutine of its own.
func (c *Conn) Drain(reason Reason) {
	c.recvMu.Lock()
	c.recvClosed = true
	c.recvMu.Unlock()
	if s, ok := c.recv.(Settler); ok {
		s.Settle()
	}
	c.Close(reason)
}

// abort closes at once, dropping what is queued: the peer is gone or
// broken.
func (c *Conn) abort(reason Reason) { c.close(reason, false) }

func (c *Conn) close(reason Reason, flush bool) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.srv.opts.Traffic.Closed()
	if c.timer != nil {
		c.timer.Stop()
	}
	if c.silence != nil {
		c.silence.Stop()
	}
	if !flush {
		c.out.take()
	}
	ws := c.ws
	keep := flush || c.noopDue // a poll is still to come
	switch {
	case c.transport == transportWebSocket && ws != nil && flush:
		ws.closing = true
		c.out.immediate = true
		c.kickLocked()
	case c.transport == transportWebSocket && ws != nil:
		ws.conn.Close()
	default:
		// The close packet leaves in a poll of its own: the official
		// client handles a close before the messages sharing its payload.
		c.pendingClose = flush
		c.kickLocked()
		// A polling client that never comes back for its last packets
		// must not keep the session: forget it after a grace period,
		// short when only the noop of a GET sent with the close is due.
		grace := c.srv.opts.PingTimeout
		if c.noopDue {
			grace = min(grace, noopGrace)
		}
		time.AfterFunc(grace, func() { c.srv.remove(c) })
	}
	c.mu.Unlock()
	if ws != nil || !keep {
		c.srv.remove(c)
	}
	c.srv.log.Debug("engineio: connection closed", "sid", c.id, "reason", string(reason))
	go c.notifyClose(reason)
}

// notifyClose tells the receiver, after any OnMessage in progress.
func (c *Conn) notifyClose(reason Reason) {
	c.recvMu.Lock()
	c.recvClosed = true
	if c.recv != nil {
		c.recv.OnClose(reason)
	}
	c.recvMu.Unlock()
	close(c.done)
}
