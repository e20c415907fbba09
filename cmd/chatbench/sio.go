package main

// A minimal Socket.IO v5 client over Engine.IO v4 WebSocket, just what a
// load generator needs: connect with an auth payload, send text events
// (with or without an ack id), hand every incoming Socket.IO packet to a
// callback, answer Engine.IO pings. No polling, no binary, no reconnects.
//
// Frames on the wire (Engine.IO type first, then Socket.IO type):
//
//	server: 0{"sid":…,"pingInterval":…}   Engine.IO open
//	client: 40{"username":…}             Socket.IO CONNECT with auth
//	server: 40{"sid":…} or 44{"message"}  connected, or refused
//	both:   42["event",…]                event; 42<id>[…] asks for an ack
//	server: 43<id>[…]                     ack
//	server: 2  client: 3                  ping, pong

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gobwas/ws"
)

// maxFrame bounds one incoming WebSocket frame (history is ~50 messages).
const maxFrame = 4 << 20

// writeTimeout bounds one write to the server.
const writeTimeout = 10 * time.Second

// Handler gets each Socket.IO packet the server sends, without the
// Engine.IO "4" in front (so an event starts with '2', an ack with '3').
// The slice is reused after the call returns.
type Handler func(pkt []byte)

// Client is one Socket.IO connection.
type Client struct {
	// ConnectReply is the payload of the server's CONNECT answer:
	// {"sid":…,"pid":…} (the pid when the server offers recovery).
	ConnectReply []byte
	Upgraded     time.Time // the WebSocket upgrade was answered

	conn    net.Conn
	raw     syscall.RawConn
	idle    time.Duration // longest silence: ping interval + timeout
	nextAck atomic.Uint64

	// Reading: the handshake's goroutine, then its poller's.
	in   []byte       // bytes read and not yet taken: a frame in parts
	hr   bytes.Reader // over in, for ws.ReadHeaderBuffer
	hbuf [ws.MaxHeaderSize - 2]byte
	frag []byte  // a fragmented message so far
	h    Handler // set by Run

	lastRead atomic.Int64 // unix nanoseconds, for the idle sweep

	mu     sync.Mutex // guards ended, poller and pollID
	ended  bool
	poller *poller // where it is registered, once Run has started
	pollID uint64
	done   chan struct{} // closed when the connection ended
	err    error         // why, once done is closed

	wmu  sync.Mutex
	wbuf []byte
}

// DialOptions say where and as whom to connect.
type DialOptions struct {
	URL     string // http://host:port of the server
	LocalIP net.IP // source address on 127.0.0.0/8, nil for any
	Auth    any    // the CONNECT auth payload, marshaled as JSON
	Timeout time.Duration
}

// Dial opens the WebSocket, reads the Engine.IO open packet, sends the
// Socket.IO CONNECT and waits for its answer. Packets the server sends
// right after the CONNECT answer stay buffered for Run.
func Dial(ctx context.Context, o DialOptions) (*Client, error) {
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	u, err := wsURL(o.URL)
	if err != nil {
		return nil, err
	}
	d := ws.Dialer{
		NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nd := net.Dialer{}
			if o.LocalIP != nil {
				nd.LocalAddr = &net.TCPAddr{IP: o.LocalIP}
			}
			return nd.DialContext(ctx, network, addr)
		},
	}
	conn, br, _, err := d.Dial(ctx, u)
	if err != nil {
		return nil, err
	}
	c, err := newClient(conn)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if br != nil { // bytes the server sent right behind its handshake
		b, _ := br.Peek(br.Buffered())
		c.in = append(c.in, b...)
		ws.PutReader(br)
	}
	deadline, _ := ctx.Deadline()
	if err := c.handshake(o.Auth, deadline); err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

func newClient(conn net.Conn) (*Client, error) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return nil, fmt.Errorf("%T has no descriptor to poll", conn)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	return &Client{conn: conn, raw: raw, idle: time.Minute, Upgraded: time.Now(), done: make(chan struct{})}, nil
}

// wsURL turns http://host:port into the Engine.IO WebSocket endpoint.
func wsURL(base string) (string, error) {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("bad server URL %q", base)
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return "", fmt.Errorf("server URL %q: only 127.0.0.0/8 addresses are allowed", base)
	}
	return "ws://" + u.Host + "/socket.io/?EIO=4&transport=websocket", nil
}

func (c *Client) handshake(auth any, deadline time.Time) error {
	c.conn.SetDeadline(deadline)
	defer c.conn.SetDeadline(time.Time{})
	msg, err := c.readMessage()
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	if len(msg) == 0 || msg[0] != '0' {
		return fmt.Errorf("open: unexpected %q", clip(msg))
	}
	var open struct{ PingInterval, PingTimeout int64 }
	if err := json.Unmarshal(msg[1:], &open); err != nil {
		return fmt.Errorf("open: %w", err)
	}
	if open.PingInterval > 0 {
		c.idle = time.Duration(open.PingInterval+open.PingTimeout) * time.Millisecond
	}
	a, err := json.Marshal(auth)
	if err != nil {
		return err
	}
	if err := c.write(append([]byte("40"), a...)); err != nil {
		return err
	}
	for {
		msg, err := c.readMessage()
		if err != nil {
			return fmt.Errorf("connect: %w", err)
		}
		switch {
		case len(msg) == 1 && msg[0] == '2':
			if err := c.write([]byte("3")); err != nil {
				return err
			}
		case strings.HasPrefix(string(msg), "40"):
			c.ConnectReply = append([]byte(nil), msg[2:]...)
			return nil
		case strings.HasPrefix(string(msg), "44"):
			return fmt.Errorf("connect refused: %s", clip(msg[2:]))
		default:
			return fmt.Errorf("connect: unexpected %q", clip(msg))
		}
	}
}

// Run hands every Socket.IO packet the server sends to h, answering
// pings, until the connection ends, and returns the error that ended it.
// h runs on a poller goroutine that serves other connections too: it
// must not block.
func (c *Client) Run(h Handler) error {
	c.h = h
	c.lastRead.Store(time.Now().UnixNano())
	used, err := c.consume(c.in) // what came with the handshake's last read
	c.in = append(c.in[:0], c.in[used:]...)
	if err == nil {
		var p *poller
		if p, err = pollerFor(); err == nil {
			err = p.add(c)
		}
	}
	if err != nil {
		c.end(err)
	}
	<-c.done
	return c.err
}

// readMessage reads, blocking, until a whole text message is in (for the
// handshake, before Run). The message stays valid until the next call.
func (c *Client) readMessage() ([]byte, error) {
	for {
		used, msg, err := c.next(c.in)
		if err != nil {
			return nil, err
		}
		if msg != nil {
			// Taken off the front; the bytes behind it move at the next call.
			rest := c.in[used:]
			out := append([]byte(nil), msg...)
			c.in = append(c.in[:0], rest...)
			return out, nil
		}
		c.in = append(c.in[:0], c.in[used:]...)
		c.in = growTail(c.in, 4096)
		n, err := c.conn.Read(c.in[len(c.in):cap(c.in)])
		c.in = c.in[:len(c.in)+n]
		if err != nil {
			return nil, err
		}
	}
}

// next takes frames off the front of data until a whole text message is
// in (msg, nil when data ends first), answering control frames and
// joining fragments; used is how many bytes it took.
func (c *Client) next(data []byte) (used int, msg []byte, err error) {
	for {
		h, payload, n, err := c.frame(data[used:])
		if err != nil || n == 0 {
			return used, nil, err
		}
		used += n
		switch h.OpCode {
		case ws.OpClose:
			return used, nil, io.EOF
		case ws.OpPing:
			if err := c.writeFrame(ws.OpPong, payload); err != nil {
				return used, nil, err
			}
			continue
		case ws.OpPong:
			continue
		}
		if !h.Fin || len(c.frag) > 0 {
			c.frag = append(c.frag, payload...)
			if !h.Fin {
				continue
			}
			payload, c.frag = c.frag, c.frag[:0:0]
		}
		return used, payload, nil
	}
}

// frame parses the frame at the front of data: n is its length in bytes,
// 0 when data holds only a part of it. The payload is unmasked in place.
func (c *Client) frame(data []byte) (h ws.Header, payload []byte, n int, err error) {
	c.hr.Reset(data)
	h, err = ws.ReadHeaderBuffer(&c.hr, c.hbuf[:])
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return h, nil, 0, nil
	}
	if err != nil {
		return h, nil, 0, err
	}
	if h.Length < 0 || int64(len(c.frag))+h.Length > maxFrame {
		return h, nil, 0, fmt.Errorf("frame of %d bytes", h.Length)
	}
	start := len(data) - c.hr.Len()
	if int64(len(data)-start) < h.Length {
		return h, nil, 0, nil
	}
	payload = data[start : start+int(h.Length)]
	if h.Masked {
		ws.Cipher(payload, h.Mask, 0)
	}
	return h, payload, start + int(h.Length), nil
}

// consume hands every whole message at the front of data to the handler
// and returns how many bytes it took.
func (c *Client) consume(data []byte) (int, error) {
	used := 0
	for {
		n, msg, err := c.next(data[used:])
		used += n
		if err != nil || msg == nil {
			return used, err
		}
		switch {
		case len(msg) == 1 && msg[0] == '2':
			if err := c.write([]byte("3")); err != nil {
				return used, err
			}
		case len(msg) > 1 && msg[0] == '4':
			c.h(msg[1:])
		case len(msg) > 0 && msg[0] == '1':
			return used, io.EOF
		}
	}
}

// end closes the connection once and tells Run why.
func (c *Client) end(err error) {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return
	}
	c.ended = true
	p, id := c.poller, c.pollID
	c.mu.Unlock()
	c.conn.Close() // which takes it out of the epoll set
	if p != nil {
		p.remove(id)
	}
	c.err = err
	close(c.done)
}

// EmitAck sends the event with one JSON argument and an ack id, which it
// returns; the ack arrives through the Handler as 3<id>[…].
func (c *Client) EmitAck(event string, arg any) (uint64, error) {
	id := c.nextAck.Add(1)
	return id, c.write(eventPacket(id, event, arg))
}

// eventPacket is 42[event,arg] or 42<id>[event,arg].
func eventPacket(ackID uint64, event string, arg any) []byte {
	b := []byte("42")
	if ackID > 0 {
		b = strconv.AppendUint(b, ackID, 10)
	}
	e, _ := json.Marshal(event)
	a, err := json.Marshal(arg)
	if err != nil {
		a = []byte("null")
	}
	b = append(b, '[')
	b = append(b, e...)
	b = append(b, ',')
	b = append(b, a...)
	return append(b, ']')
}

// Close closes the connection; Run then returns net.ErrClosed.
func (c *Client) Close() error {
	c.end(net.ErrClosed)
	return nil
}

// write sends one text message.
func (c *Client) write(p []byte) error { return c.writeFrame(ws.OpText, p) }

// writeFrame sends one masked frame in a single write.
func (c *Client) writeFrame(op ws.OpCode, p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	h := ws.Header{Fin: true, OpCode: op, Masked: true, Mask: ws.NewMask(), Length: int64(len(p))}
	w := appendWriter{c.wbuf[:0]}
	if err := ws.WriteHeader(&w, h); err != nil {
		return err
	}
	start := len(w.b)
	w.b = append(w.b, p...)
	ws.Cipher(w.b[start:], h.Mask, 0)
	c.wbuf = w.b
	c.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err := c.conn.Write(w.b)
	return err
}

type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// ackOf splits an ack packet 3<id>[…] into its id and arguments.
func ackOf(pkt []byte) (uint64, []byte, bool) {
	if len(pkt) < 2 || pkt[0] != '3' {
		return 0, nil, false
	}
	i := 1
	for i < len(pkt) && pkt[i] >= '0' && pkt[i] <= '9' {
		i++
	}
	id, err := strconv.ParseUint(string(pkt[1:i]), 10, 64)
	if err != nil {
		return 0, nil, false
	}
	return id, pkt[i:], true
}

// isEvent reports whether pkt is the event named name: 2["name",….
func isEvent(pkt []byte, name string) bool {
	n := len(name)
	return len(pkt) >= n+4 && pkt[0] == '2' && pkt[1] == '[' && pkt[2] == '"' &&
		string(pkt[3:3+n]) == name && pkt[3+n] == '"'
}

func clip(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}
