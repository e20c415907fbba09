package socketio

import (
	"bytes"
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/globalchat/globalchat/socketio/engineio"
)

// client is one Engine.IO connection and the sockets it opened, one per
// namespace. It receives the connection's messages, one at a time, and
// runs their packets through its inbox.
type client struct {
	srv   *Server
	conn  *engineio.Conn
	timer *time.Timer // connect timeout
	inbox inbox

	// pending is a binary packet waiting for its attachments, of which
	// pendingBytes have come.
	pending      *packet
	attachments  [][]byte
	pendingBytes int

	mu      sync.Mutex
	sockets []*Socket // one per namespace, seldom more than one
	closed  bool
}

// stopTimerLocked ends the connect timeout and lets its timer go: an
// open connection keeps nothing of it.
func (c *client) stopTimerLocked() {
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
}

// OnMessage implements engineio.Receiver.
func (c *client) OnMessage(data []byte, binary bool) {
	if binary {
		if c.pending == nil {
			c.unannounced(data)
			return
		}
		c.pendingBytes += len(data)
		if c.pendingBytes > c.srv.opts.MaxAttachmentBytes {
			c.refuse(RefusedAttachmentBytes)
			return
		}
		c.attachments = append(c.attachments, bytes.Clone(data))
		if len(c.attachments) == c.pending.attachments {
			p, att := *c.pending, c.attachments
			c.pending, c.attachments, c.pendingBytes = nil, nil, 0
			c.dispatch(p, att)
		}
		return
	}
	if c.pending != nil {
		c.fail("text message while waiting for attachments")
		return
	}
	p, err := decodePacket(data)
	if err != nil {
		c.fail(err.Error())
		return
	}
	c.srv.metrics.received.Inc()
	if p.attachments > c.srv.opts.MaxAttachments {
		c.refuse(RefusedAttachments)
		return
	}
	if p.attachments > 0 {
		p.data = bytes.Clone(p.data)
		c.pending = &p
		return
	}
	c.dispatch(p, nil)
}

// unannounced handles a binary message that no packet announced: from a
// client of another parser (msgpack), a refusal it can report, else a
// broken client.
func (c *client) unannounced(data []byte) {
	nsp, ok := msgpackNamespace(data)
	if !ok {
		c.fail("binary message without a packet")
		return
	}
	c.srv.refusals.report(engineio.Refusal{Reason: RefusedParser, Addr: c.conn.RemoteHost(), Detail: "msgpack"})
	c.conn.Send(engineio.Message{Data: msgpackConnectError(nsp, parserRefusal), Binary: true})
	c.conn.Close(engineio.ReasonParseError)
}

// refuse ends a connection over a bound, counted and logged sampled.
func (c *client) refuse(reason string) {
	c.srv.refusals.report(engineio.Refusal{Reason: reason, Addr: c.conn.RemoteHost()})
	c.conn.Close(engineio.ReasonParseError)
}

// fail ends a connection that sent something invalid.
func (c *client) fail(why string) {
	c.srv.log.Info("socketio: invalid packet, closing", "sid", c.conn.ID(), "why", why)
	c.conn.Close(engineio.ReasonParseError)
}

// dispatch runs a packet after those before it, through the inbox, so
// that the read loop goes on while a handler waits. A CONNECT is waited
// for: its work (authentication, history, presence) is part of opening
// the connection, which the Engine.IO layer bounds (MaxOpening) while
// OnMessage runs; and its data is valid only until then.
func (c *client) dispatch(p packet, attachments [][]byte) {
	if p.typ == typeConnect {
		c.inbox.do(func() { c.connect(p) })
		return
	}
	p.data = nil // valid only during OnMessage; name and args are copies
	c.inbox.add(func() { c.handle(p, attachments) })
}

// Settle implements engineio.Settler: it returns once the packets
// received so far have run (a drain closes the connection after the
// answer to the message in flight).
func (c *client) Settle() { c.inbox.do(func() {}) }

// handle runs a packet other than CONNECT.
func (c *client) handle(p packet, attachments [][]byte) {
	switch p.typ {
	case typeDisconnect:
		if s := c.socket(p.nsp); s != nil {
			s.close(ReasonClientDisconnect)
			c.timeIfEmpty()
		}
	case typeEvent, typeBinaryEvent:
		if s := c.socket(p.nsp); s != nil {
			s.onEvent(p, attachments)
		}
	case typeAck, typeBinaryAck:
		if s := c.socket(p.nsp); s != nil {
			s.onAck(p, attachments)
		}
	}
}

func (c *client) socket(nsp string) *Socket {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.sockets {
		if s.nsp.name == nsp {
			return s
		}
	}
	return nil
}

// closeIfEmpty closes the connection once no namespace is left on it
// (after a server-side disconnect, as socket.disconnect(true) does on the
// reference server).
func (c *client) closeIfEmpty() {
	c.mu.Lock()
	empty := len(c.sockets) == 0
	c.mu.Unlock()
	if empty {
		c.conn.Close(engineio.ReasonTransportClose)
	}
}

// timeIfEmpty starts the connect timeout again once no namespace is left
// on the connection. The connection itself stays, heartbeats and all, as
// on the reference server: the client may join again, and its own
// Manager closes it when it means to leave; a client that does neither
// is closed when the timeout expires.
func (c *client) timeIfEmpty() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.sockets) == 0 && !c.closed && c.timer == nil {
		c.timer = time.AfterFunc(c.srv.opts.ConnectTimeout, c.connectTimeout)
	}
}

func (c *client) connectTimeout() {
	c.mu.Lock()
	none := len(c.sockets) == 0
	c.mu.Unlock()
	if none {
		c.conn.Close(engineio.ReasonForcedClose)
	}
}

// connect handles a CONNECT packet: the namespace must exist and its
// middlewares accept the auth payload.
func (c *client) connect(p packet) {
	n := c.srv.namespace(p.nsp)
	if n == nil {
		c.send(connectError(p.nsp, &ConnectError{Message: "Invalid namespace"}))
		return
	}
	if c.socket(p.nsp) != nil {
		return
	}
	n.connect(c, p.data)
}

// connectError encodes a CONNECT_ERROR packet.
func connectError(nsp string, e *ConnectError) []byte {
	body := struct {
		Message string `json:"message"`
		Data    any    `json:"data,omitempty"`
	}{e.Message, e.Data}
	data, _ := json.Marshal(body)
	return appendPacket(nil, typeConnectError, nsp, 0, -1, data)
}

// send queues one encoded packet and its attachments, to leave at once.
func (c *client) send(pkt []byte, attachments ...[]byte) error {
	return c.queue(engineio.Immediate, pkt, attachments)
}

// broadcast queues a broadcast's packet and attachments, which may wait
// for the connection's write delay to leave with the ones after it.
func (c *client) broadcast(b Broadcast) error {
	timing := engineio.Batched
	if b.lazy {
		timing = engineio.Lazy
	}
	if len(b.Attachments) == 0 { // timed from its emission to its write
		return c.conn.Send(engineio.Message{Data: b.Packet, Timing: timing, Emitted: b.Emitted})
	}
	return c.queue(timing, b.Packet, b.Attachments)
}

func (c *client) queue(timing engineio.Timing, pkt []byte, attachments [][]byte) error {
	if len(attachments) == 0 {
		return c.conn.Send(engineio.Message{Data: pkt, Timing: timing})
	}
	msgs := make([]engineio.Message, 0, 1+len(attachments))
	msgs = append(msgs, engineio.Message{Data: pkt, Timing: timing})
	for _, a := range attachments {
		msgs = append(msgs, engineio.Message{Data: a, Binary: true, Timing: timing})
	}
	return c.conn.Send(msgs...)
}

func (c *client) add(s *Socket) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.sockets = append(c.sockets, s)
	// Only a namespace actually joined ends the connect timeout: a
	// client refused by a middleware is still closed when it expires,
	// and counts as unconnected until then.
	c.stopTimerLocked()
	c.conn.MarkConnected()
	return true
}

func (c *client) remove(s *Socket) {
	c.mu.Lock()
	c.sockets = slices.DeleteFunc(c.sockets, func(t *Socket) bool { return t == s })
	c.mu.Unlock()
}

// OnClose implements engineio.Receiver: every socket of the connection
// closes with the transport's reason, once the packets received before
// have run.
func (c *client) OnClose(reason engineio.Reason) {
	c.inbox.do(func() { c.close(reason) })
}

func (c *client) close(reason engineio.Reason) {
	c.mu.Lock()
	c.stopTimerLocked()
	c.closed = true
	sockets := slices.Clone(c.sockets)
	c.mu.Unlock()
	for _, s := range sockets {
		s.close(Reason(reason))
	}
	c.srv.metrics.connections.Dec()
}
