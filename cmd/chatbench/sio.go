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
	"bufio"
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
	rd      *bufio.Reader
	idle    time.Duration // read deadline: ping interval + timeout
	nextAck atomic.Uint64

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
	c := &Client{conn: conn, rd: bufio.NewReaderSize(conn, 2048), idle: time.Minute, Upgraded: time.Now()}
	if br != nil { // bytes the server sent right behind its handshake
		c.rd = bufio.NewReaderSize(io.MultiReader(br, conn), 2048)
	}
	deadline, _ := ctx.Deadline()
	if err := c.handshake(o.Auth, deadline); err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
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
	var buf []byte
	msg, err := c.readText(&buf)
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
		msg, err := c.readText(&buf)
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

// Run reads until the connection ends, answering pings and passing every
// Socket.IO packet to h. It returns the error that ended it.
func (c *Client) Run(h Handler) error {
	var buf []byte
	for {
		c.conn.SetReadDeadline(time.Now().Add(c.idle))
		msg, err := c.readText(&buf)
		if err != nil {
			return err
		}
		switch {
		case len(msg) == 1 && msg[0] == '2':
			if err := c.write([]byte("3")); err != nil {
				return err
			}
		case len(msg) > 1 && msg[0] == '4':
			h(msg[1:])
		case len(msg) > 0 && msg[0] == '1':
			return io.EOF
		}
	}
}

// readText reads one text message into *buf, skipping control frames
// (answering WebSocket pings) and joining fragments.
func (c *Client) readText(buf *[]byte) ([]byte, error) {
	msg := (*buf)[:0]
	for {
		h, err := ws.ReadHeader(c.rd)
		if err != nil {
			return nil, err
		}
		if h.Length < 0 || int64(len(msg))+h.Length > maxFrame {
			return nil, fmt.Errorf("frame of %d bytes", h.Length)
		}
		start := len(msg)
		msg = append(msg, make([]byte, h.Length)...)
		if _, err := io.ReadFull(c.rd, msg[start:]); err != nil {
			return nil, err
		}
		if h.Masked {
			ws.Cipher(msg[start:], h.Mask, 0)
		}
		switch h.OpCode {
		case ws.OpClose:
			return nil, io.EOF
		case ws.OpPing:
			if err := c.writeFrame(ws.OpPong, msg[start:]); err != nil {
				return nil, err
			}
			msg = msg[:start]
			continue
		case ws.OpPong:
			msg = msg[:start]
			continue
		}
		if h.Fin {
			*buf = msg
			return msg, nil
		}
	}
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

// Close closes the connection; Run then returns.
func (c *Client) Close() error { return c.conn.Close() }

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
