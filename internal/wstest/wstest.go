// Package wstest is a raw WebSocket client for tests: it sends and reads
// frame by frame what any client, a broken or hostile one too, can, and
// says how the server ended the connection. The Engine.IO, Socket.IO and
// server tests build their protocol clients on it.
package wstest

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// Wait bounds each read unless Options.Wait says otherwise.
const Wait = 5 * time.Second

// Options configure Dial.
type Options struct {
	// Header is sent with the handshake; nil for none.
	Header http.Header
	// LocalAddr is the loopback address to dial from (127.0.x.y), to pass
	// for another client address; empty for any.
	LocalAddr string
	// Wait bounds each read; default Wait.
	Wait time.Duration
}

// Conn is one client WebSocket.
type Conn struct {
	t    testing.TB
	conn net.Conn
	rw   io.ReadWriter // conn, after what the handshake's reader holds
	wait time.Duration
}

// Dial opens a WebSocket to url (ws://...), closed when the test ends.
func Dial(t testing.TB, url string, opts Options) (*Conn, error) {
	if opts.Wait <= 0 {
		opts.Wait = Wait
	}
	d := ws.Dialer{Timeout: opts.Wait}
	if opts.Header != nil {
		d.Header = ws.HandshakeHeaderHTTP(opts.Header)
	}
	if opts.LocalAddr != "" {
		d.NetDial = (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(opts.LocalAddr)}}).DialContext
	}
	ctx, cancel := context.WithTimeout(context.Background(), opts.Wait)
	defer cancel()
	conn, br, _, err := d.Dial(ctx, url)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { conn.Close() })
	c := &Conn{t: t, conn: conn, rw: conn, wait: opts.Wait}
	if br != nil { // frames the server sent right behind its handshake
		c.rw = struct {
			io.Reader
			io.Writer
		}{io.MultiReader(br, conn), conn}
	}
	return c, nil
}

// MustDial is Dial failing the test on error.
func MustDial(t testing.TB, url string, opts Options) *Conn {
	t.Helper()
	c, err := Dial(t, url, opts)
	if err != nil {
		t.Fatalf("wstest: dial %s: %v", url, err)
	}
	return c
}

// Net returns the underlying connection, to write frames of one's own.
func (c *Conn) Net() net.Conn { return c.conn }

// Reader returns what reads the connection's frames (the handshake's
// buffered bytes first), to read frames of one's own.
func (c *Conn) Reader() io.Reader { return c.rw }

// Read reads the next data message; control frames are answered.
func (c *Conn) Read() ([]byte, ws.OpCode, error) { return c.ReadWithin(c.wait) }

// ReadWithin is Read waiting at most d.
func (c *Conn) ReadWithin(d time.Duration) ([]byte, ws.OpCode, error) {
	c.conn.SetReadDeadline(time.Now().Add(d))
	return wsutil.ReadServerData(c.rw)
}

// ExpectText reads the next message, which must be text.
func (c *Conn) ExpectText() string {
	c.t.Helper()
	b, op, err := c.Read()
	if err != nil || op != ws.OpText {
		c.t.Fatalf("wstest: read: %v (op %v)", err, op)
	}
	return string(b)
}

// Expect reads the next message, which must be the text want.
func (c *Conn) Expect(want string) {
	c.t.Helper()
	if got := c.ExpectText(); got != want {
		c.t.Fatalf("wstest: received %q, want %q", got, want)
	}
}

// Send writes a text message, failing the test on error.
func (c *Conn) Send(text string) {
	c.t.Helper()
	if err := wsutil.WriteClientText(c.rw, []byte(text)); err != nil {
		c.t.Fatalf("wstest: send: %v", err)
	}
}

// SendBinary writes a binary message; the error says whether the server
// still takes them.
func (c *Conn) SendBinary(b []byte) error { return wsutil.WriteClientBinary(c.rw, b) }

// ExpectCloseStatus reads until a close frame, which must carry status.
func (c *Conn) ExpectCloseStatus(status ws.StatusCode) {
	c.t.Helper()
	for {
		_, _, err := c.Read()
		var closed wsutil.ClosedError
		switch {
		case errors.As(err, &closed):
			if closed.Code != status {
				c.t.Fatalf("wstest: closed with %d %q, want %d", closed.Code, closed.Reason, status)
			}
			return
		case err != nil:
			c.t.Fatalf("wstest: no close frame (want %d): %v", status, err)
		}
	}
}

// ExpectClosed reads until the server ends the connection; done, when
// not nil, is asked of each message read and may end the wait (a close
// packet of the protocol above).
func (c *Conn) ExpectClosed(done func(msg []byte) bool) {
	c.t.Helper()
	for {
		b, _, err := c.Read()
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			c.t.Fatal("wstest: connection not closed")
		case err != nil:
			return
		case done != nil && done(b):
			return
		}
	}
}

// ClosedWithin reports whether the server ends the connection within d,
// reading what comes meanwhile.
func (c *Conn) ClosedWithin(d time.Duration) bool {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if _, _, err := c.ReadWithin(time.Until(end)); err != nil {
			return !errors.Is(err, os.ErrDeadlineExceeded)
		}
	}
	return false
}
