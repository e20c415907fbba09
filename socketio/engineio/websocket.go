package engineio

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"
)

// writeTimeout bounds one flush to a WebSocket: a peer that does not read
// for that long is gone.
const writeTimeout = 10 * time.Second

// upgradeTimeout bounds the probe exchange of an upgrade.
const upgradeTimeout = 10 * time.Second

// Control frames travel in the queue as frames with these types, which no
// Engine.IO packet uses.
const (
	ctrlPong  byte = 'P'
	ctrlClose byte = 'C'
)

// wsTransport is a WebSocket under a Conn.
type wsTransport struct {
	conn    net.Conn
	r       wsReader // read by one goroutine at a time: the probe, then readLoop
	closing bool     // flush what is queued, then close (guarded by Conn.mu)
	// closeBody is the close frame's body when the server ends the
	// connection for a protocol violation (nil: normal closure); the
	// reader then lingers (see lingerClose) and closes the socket itself.
	closeBody []byte
}

// lingerTimeout and maxLinger bound how long, and how much, the server
// keeps reading a peer it has sent a close frame for a protocol violation.
const (
	lingerTimeout = time.Second
	maxLinger     = 4 << 20
)

// closeError is a violation that ends the connection with a close frame
// of its own status, so that the client can say why (socket.io's server
// does the same: 1009 for a message too big).
type closeError struct {
	status  ws.StatusCode
	text    string // the close frame's reason
	refusal string // Refusal.Reason
}

func (e *closeError) Error() string { return "engineio: websocket " + e.text }

// body is the close frame's payload.
func (e *closeError) body() []byte { return ws.NewCloseFrameBody(e.status, e.text) }

var (
	errTooBig = &closeError{ws.StatusMessageTooBig, "message too big", RefusedTooBig}
	// RFC 6455 5.5: control frames carry at most 125 bytes and are not
	// fragmented.
	errControlFrame = &closeError{ws.StatusProtocolError, "invalid control frame", RefusedControlFrame}
)

func (c *Conn) acceptWebSocket(w http.ResponseWriter, r *http.Request) (*wsTransport, bool) {
	u := ws.HTTPUpgrader{}
	conn, rw, _, err := u.Upgrade(r, w)
	if err != nil {
		c.srv.log.Debug("engineio: websocket upgrade failed", "err", err)
		return nil, false
	}
	var rd io.Reader = conn
	if n := rw.Reader.Buffered(); n > 0 {
		// Bytes the client sent right behind its handshake.
		b, _ := rw.Reader.Peek(n)
		rd = io.MultiReader(bytes.NewReader(bytes.Clone(b)), conn)
	}
	return &wsTransport{conn: conn, r: wsReader{src: rd}}, true
}

// serveWebSocket runs a connection that starts on WebSocket.
func (c *Conn) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	t, ok := c.acceptWebSocket(w, r)
	if !ok {
		c.abort(ReasonTransportError)
		return
	}
	c.mu.Lock()
	if c.closed {
		// Shut down while the handshake was answered.
		c.mu.Unlock()
		t.conn.Close()
		return
	}
	c.transport = transportWebSocket
	c.ws = t
	c.mu.Unlock()
	c.enqueue(frame{typ: typeOpen, data: c.srv.openPacket(c.id, false)})
	c.startHeartbeat()
	// The read loop gets its own goroutine so that this handler returns:
	// net/http keeps the request, its context and the connection's 4 KB
	// reader and writer for as long as the handler runs (about 12 KB of
	// heap and a deep stack per connection, half of an idle one's memory).
	go c.readLoop(t)
}

// upgrade moves a polling connection to WebSocket: the client probes with
// "2probe", we answer "3probe", the pending poll ends with a noop, and the
// client confirms with "5".
func (c *Conn) upgrade(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	if c.transport != transportPolling || c.upgrading || c.closed {
		c.mu.Unlock()
		// A second WebSocket for a session already on (or moving to)
		// WebSocket: accepted, then closed, as the reference server
		// does, which its clients take as a plain close, not an error.
		if t, ok := c.acceptWebSocket(w, r); ok {
			writeFrames(t.conn, []frame{{typ: ctrlClose}})
			t.conn.Close()
		}
		return
	}
	c.upgrading = true
	c.mu.Unlock()
	t, ok := c.acceptWebSocket(w, r)
	if ok && c.probe(t) {
		go c.readLoop(t) // returns from the handler, as in serveWebSocket
		return
	}
	c.mu.Lock()
	c.upgrading, c.probed = false, false
	c.mu.Unlock()
	if ok {
		t.conn.Close()
	}
}

// probe runs the upgrade exchange and switches the transport on success.
func (c *Conn) probe(t *wsTransport) bool {
	t.conn.SetDeadline(time.Now().Add(upgradeTimeout))
	defer t.conn.SetDeadline(time.Time{})
	msg, op, err := c.readMessage(t)
	if err != nil || op != ws.OpText || string(msg) != "2probe" {
		c.probeFailed(t, err)
		return false
	}
	probe := []frame{{typ: typePong, data: []byte("probe")}}
	if err := writeFrames(t.conn, probe); err != nil {
		return false
	}
	c.sentWebSocket(probe)
	c.mu.Lock()
	c.probed = true
	c.kickLocked() // ends the pending poll with a noop
	c.mu.Unlock()
	msg, op, err = c.readMessage(t)
	if err != nil || op != ws.OpText || string(msg) != string(typeUpgrade) {
		c.probeFailed(t, err)
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.transport = transportWebSocket
	c.ws = t
	c.upgrading, c.probed = false, false
	select { // a poll still pending ends with a noop
	case c.wake <- struct{}{}:
	default:
	}
	if len(c.out.frames) > 0 {
		c.kickLocked()
	}
	return true
}

// probeFailed ends a probe's WebSocket that broke the protocol with its
// close status; the session goes on over polling.
func (c *Conn) probeFailed(t *wsTransport, err error) {
	var ce *closeError
	if errors.As(err, &ce) {
		c.srv.refuse(ce.refusal, c.remoteAddr, ce.text)
		writeFrames(t.conn, []frame{{typ: ctrlClose, data: ce.body()}})
		t.lingerClose()
	}
}

// readLoop reads messages until the connection ends.
func (c *Conn) readLoop(t *wsTransport) {
	for {
		if err := t.r.fill(); err != nil {
			c.abort(ReasonTransportClose)
			return
		}
		msg, op, err := c.readMessage(t)
		var ce *closeError
		if errors.As(err, &ce) {
			c.protocolClose(t, ce)
			return
		}
		if err != nil {
			c.abort(ReasonTransportClose)
			return
		}
		switch op {
		case ws.OpBinary:
			c.receive(packet{typ: typeMessage, data: msg, binary: true})
		case ws.OpText:
			p, err := decodeText(msg)
			if err != nil {
				c.srv.log.Info("engineio: invalid packet, closing", "sid", c.id, "transport", "websocket")
				c.abort(ReasonParseError)
				return
			}
			c.receive(p)
		}
	}
}

// protocolClose ends the connection for a protocol violation: what is
// queued is dropped, the close frame says why, and the socket is read
// until the peer closes it (bounded), so that the close frame is not lost
// to a reset.
func (c *Conn) protocolClose(t *wsTransport, ce *closeError) {
	c.srv.refuse(ce.refusal, c.remoteAddr, ce.text)
	c.srv.log.Debug("engineio: websocket closed for a protocol violation", "sid", c.id, "status", int(ce.status), "why", ce.text)
	c.mu.Lock()
	t.closeBody = ce.body()
	c.out.take()
	c.mu.Unlock()
	c.Close(ReasonTransportError) // the write loop sends the close frame
	t.lingerClose()
}

// lingerClose reads and drops what the peer still sends, until it closes
// its side, for at most lingerTimeout and maxLinger bytes; then closes.
// Closing with unread input would send a reset, and the peer's stack may
// then drop the close frame before its application reads it.
func (t *wsTransport) lingerClose() {
	t.conn.SetReadDeadline(time.Now().Add(lingerTimeout))
	io.Copy(io.Discard, io.LimitReader(&t.r, maxLinger))
	t.r.release()
	t.conn.Close()
}

// payloadStep is the most read ahead of what has arrived: a frame whose
// header announces more is read into a buffer that grows as its bytes
// come, so that a header alone cannot make the server allocate the
// megabyte it announces.
const payloadStep = 32 << 10

// readPayload reads a frame's n bytes of payload.
func readPayload(r io.Reader, n int64) ([]byte, error) {
	if n <= payloadStep {
		b := make([]byte, n)
		_, err := io.ReadFull(r, b)
		return b, err
	}
	var buf bytes.Buffer
	buf.Grow(payloadStep)
	if _, err := io.CopyN(&buf, r, n); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// readMessage reads one data message, answering pings and joining
// fragments, never holding more than MaxPayload.
func (c *Conn) readMessage(t *wsTransport) ([]byte, ws.OpCode, error) {
	defer t.r.release()
	var msg []byte
	var op ws.OpCode
	for {
		h, err := ws.ReadHeader(&t.r)
		if err != nil {
			return nil, 0, err
		}
		if h.Length > 0 {
			t.r.borrow()
		}
		switch {
		case !h.Masked || h.Length < 0:
			return nil, 0, ws.ErrProtocolMaskRequired
		case h.OpCode.IsControl() && (h.Length > 125 || !h.Fin):
			return nil, 0, errControlFrame
		case int64(len(msg))+h.Length > int64(c.srv.opts.MaxPayload):
			return nil, 0, errTooBig
		}
		payload, err := readPayload(&t.r, h.Length)
		if err != nil {
			return nil, 0, err
		}
		ws.Cipher(payload, h.Mask, 0)
		switch {
		case h.OpCode == ws.OpClose:
			return nil, 0, io.EOF
		case h.OpCode == ws.OpPing:
			c.mu.Lock()
			current := c.ws == t
			c.mu.Unlock()
			if current { // during a probe the queue still feeds polling
				c.enqueue(frame{typ: ctrlPong, data: payload})
			}
			continue
		case h.OpCode == ws.OpPong:
			continue
		case h.OpCode == ws.OpContinuation:
			if op == 0 {
				return nil, 0, ws.ErrProtocolContinuationUnexpected
			}
		default:
			op = h.OpCode
		}
		msg = append(msg, payload...)
		if h.Fin {
			c.srv.opts.Traffic.Received(true, 1, len(msg))
			return msg, op, nil
		}
	}
}

// closeAfterWrite ends the socket once the close frame is written: at
// once, or, when the reader lingers after a protocol violation, only the
// sending side (the reader closes the rest).
func (t *wsTransport) closeAfterWrite(lingering bool) {
	if cw, ok := t.conn.(interface{ CloseWrite() error }); ok && lingering {
		cw.CloseWrite()
		return
	}
	if !lingering {
		t.conn.Close()
	}
}

// writeFrames writes frames as WebSocket frames in one writev(2), waiting
// for the socket up to writeTimeout.
func writeFrames(conn net.Conn, frames []frame) error {
	f := encodeFrames(frames)
	defer f.release()
	return f.write(conn)
}

// encodeFrames lays frames out for one writev(2): their headers are
// encoded into one small buffer, and the payloads, shared by the
// recipients of a broadcast, are written from where they are, with no
// copy and no second system call however many frames are pending.
func encodeFrames(frames []frame) *flush {
	f := flushPool.Get().(*flush)
	if need := len(frames) * (ws.MaxHeaderSize + 1); cap(f.hdr) < need {
		f.hdr = make([]byte, 0, need) // never grows below: bufs keep slices of it
	}
	for _, fr := range frames {
		switch {
		case fr.binary:
			f.add(ws.OpBinary, 0, fr.data)
		case fr.typ == ctrlPong:
			f.add(ws.OpPong, 0, fr.data)
		case fr.typ == ctrlClose && fr.data != nil:
			f.add(ws.OpClose, 0, fr.data)
		case fr.typ == ctrlClose:
			f.add(ws.OpClose, 0, ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))
		default:
			f.add(ws.OpText, fr.typ, fr.data)
		}
	}
	f.left = f.bufs
	return f
}

// write writes what is left of f, waiting for the socket up to
// writeTimeout.
func (f *flush) write(conn net.Conn) error {
	conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, ok := conn.(syscall.Conn); !ok {
		// A wrapped connection would get one write per buffer: join them.
		_, err := conn.Write(bytes.Join(f.left, nil))
		return err
	}
	_, err := f.left.WriteTo(conn)
	if err == nil {
		// writeNow fails on a deadline gone by.
		err = conn.SetWriteDeadline(time.Time{})
	}
	return err
}

// maxIovecs is the most buffers one writev(2) takes (IOV_MAX).
const maxIovecs = 1024

// writeNow writes what the socket takes of f without waiting for it, and
// keeps the rest in f; it reports whether everything left. A connection
// with no file descriptor of its own (TLS) takes nothing this way.
func (f *flush) writeNow(conn net.Conn) (done bool, err error) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return false, nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false, err
	}
	f.err = nil
	if err := raw.Write(f.onFD); err != nil {
		return false, err
	}
	return len(f.left) == 0, f.err
}

// writeFD is writeNow's work on the file descriptor (as f.onFD, a method
// value made once per pooled flush: one per write would be an allocation
// per recipient of a broadcast). Its error goes to f.err.
func (f *flush) writeFD(fd uintptr) bool {
	for len(f.left) > 0 {
		n, err := f.writev(fd)
		switch err {
		case nil:
			f.consume(n)
		case unix.EINTR:
		case unix.EAGAIN:
			return true // full: the rest waits
		default:
			f.err = err
			return true
		}
	}
	return true // never wait for the socket here
}

// writev writes what is left, up to maxIovecs buffers, with one
// writev(2) on fd, from an iovec array kept with f (unix.Writev would
// allocate one per call).
func (f *flush) writev(fd uintptr) (int, error) {
	for _, b := range f.left[:min(len(f.left), maxIovecs)] {
		if len(b) > 0 {
			v := unix.Iovec{Base: &b[0]}
			v.SetLen(len(b))
			f.iov = append(f.iov, v)
		}
	}
	n, _, errno := unix.Syscall(unix.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&f.iov[0])), uintptr(len(f.iov)))
	clear(f.iov) // the pool does not keep the payloads alive
	f.iov = f.iov[:0]
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// consume drops the first n bytes of what is left to write.
func (f *flush) consume(n int) {
	for n > 0 && len(f.left) > 0 {
		if n < len(f.left[0]) {
			f.left[0] = f.left[0][n:]
			return
		}
		n -= len(f.left[0])
		f.left = f.left[1:]
	}
}

// flush is the iovec list of one write.
type flush struct {
	hdr     []byte      // the frames' headers, one after the other
	bufs    net.Buffers // header, payload, header, payload, …
	left    net.Buffers // what is still to write of bufs
	iov     []unix.Iovec
	onFD    func(fd uintptr) bool // f.writeFD
	err     error                 // writeFD's
	scratch [ws.MaxHeaderSize]byte
}

var flushPool = sync.Pool{New: func() any {
	f := new(flush)
	f.onFD = f.writeFD
	return f
}}

// maxPooledFlush bounds the header buffer a pooled flush keeps.
const maxPooledFlush = 64 << 10

// add appends one unfragmented frame; a non-zero prefix byte goes before
// data, in the header's buffer, so a shared payload needs no copy.
func (f *flush) add(op ws.OpCode, prefix byte, data []byte) {
	n := int64(len(data))
	if prefix != 0 {
		n++
	}
	start := len(f.hdr)
	// f.Write appends to hdr; it cannot fail.
	_ = ws.WriteHeaderBuffer(f, ws.Header{Fin: true, OpCode: op, Length: n}, f.scratch[:])
	if prefix != 0 {
		f.hdr = append(f.hdr, prefix)
	}
	f.bufs = append(f.bufs, f.hdr[start:len(f.hdr):len(f.hdr)])
	if len(data) > 0 {
		f.bufs = append(f.bufs, data)
	}
}

// Write appends an encoded header to hdr (for ws.WriteHeaderBuffer).
func (f *flush) Write(p []byte) (int, error) {
	f.hdr = append(f.hdr, p...)
	return len(p), nil
}

// release returns f to the pool without the payloads it pointed at.
func (f *flush) release() {
	if cap(f.hdr) > maxPooledFlush || cap(f.bufs) > maxPooledFlush/16 {
		return
	}
	clear(f.bufs[:cap(f.bufs)])
	f.bufs, f.left = f.bufs[:0], nil
	f.hdr = f.hdr[:0]
	flushPool.Put(f)
}
