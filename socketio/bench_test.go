package socketio

import (
	"bufio"
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws/wsutil"

	"github.com/globalchat/globalchat/internal/testwait"
)

// discardConn is the server's end of an in-process WebSocket: reads return
// what the client "sent" (preloaded), then block until Close; writes are
// dropped. Its system calls go to /dev/null (see SyscallConn), one file
// descriptor for all of them, so thousands of real engine connections fit
// in a benchmark, written as TCP connections are: without blocking, by the
// engine's flushing goroutines.
type discardConn struct {
	in       *bytes.Reader
	closed   chan struct{}
	isClosed atomic.Bool
	once     sync.Once
}

func newDiscardConn(in []byte) *discardConn {
	return &discardConn{in: bytes.NewReader(in), closed: make(chan struct{})}
}

func (c *discardConn) Read(p []byte) (int, error) {
	if c.in.Len() > 0 {
		return c.in.Read(p)
	}
	<-c.closed
	return 0, net.ErrClosed
}

func (c *discardConn) Write(p []byte) (int, error) {
	if c.isClosed.Load() {
		return 0, net.ErrClosed
	}
	return len(p), nil
}

// devNull is the file every discardConn writes to.
var devNull = sync.OnceValues(func() (*os.File, error) { return os.OpenFile(os.DevNull, os.O_WRONLY, 0) })

func (c *discardConn) SyscallConn() (syscall.RawConn, error) {
	f, err := devNull()
	if err != nil {
		return nil, err
	}
	return f.SyscallConn()
}

func (c *discardConn) Close() error {
	c.once.Do(func() {
		c.isClosed.Store(true)
		close(c.closed)
	})
	return nil
}

func (c *discardConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *discardConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *discardConn) SetDeadline(time.Time) error      { return nil }
func (c *discardConn) SetReadDeadline(time.Time) error  { return nil }
func (c *discardConn) SetWriteDeadline(time.Time) error { return nil }

// hijackWriter is a ResponseWriter whose connection is a discardConn, so
// the WebSocket upgrade runs for real.
type hijackWriter struct {
	header http.Header
	conn   net.Conn
}

func (w *hijackWriter) Header() http.Header         { return w.header }
func (w *hijackWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *hijackWriter) WriteHeader(int)             {}

func (w *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return w.conn, bufio.NewReadWriter(bufio.NewReader(w.conn), bufio.NewWriter(w.conn)), nil
}

// connectDiscard opens a WebSocket session on s in process, whose client
// sends the Socket.IO packets given (each prefixed "4" for Engine.IO) and
// reads nothing. The session lives until the returned conn is closed.
func connectDiscard(s *Server, packets ...string) *discardConn {
	var in bytes.Buffer
	for _, p := range packets {
		wsutil.WriteClientText(&in, []byte("4"+p))
	}
	conn := newDiscardConn(in.Bytes())
	req := httptest.NewRequest("GET", "/socket.io/?EIO=4&transport=websocket", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	go s.ServeHTTP(&hijackWriter{header: http.Header{}, conn: conn}, req)
	return conn
}

// BenchmarkBroadcast10k measures one broadcast to a room of 10,000 local
// sockets: the packet encoded once, then queued on 10,000 real engine
// connections (WebSocket sessions whose transport discards what it gets),
// each flushed by the engine's flushing goroutines.
func BenchmarkBroadcast10k(b *testing.B) {
	const n = 10_000
	s, err := NewServer(Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Shutdown(b.Context())
	nsp := s.Of("/")
	nsp.OnConnection(func(s *Socket) { s.Join("room") })
	conns := make([]*discardConn, n)
	for i := range conns {
		conns[i] = connectDiscard(s, "0")
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	testwait.For(b, "10,000 sockets in the room", func() bool { return nsp.RoomSize("room") == n })

	msg := map[string]any{
		"id":   "01J9Z7Q3X8YV6N5T2K4M0PBWRC",
		"user": map[string]any{"id": "u-42", "name": "alice"},
		"text": "hello, everyone: this is a chat message of a typical length",
		"ts":   1_700_000_000_000,
	}
	room := nsp.To("room")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := room.Emit("message", msg); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	// Every socket got every broadcast: none was dropped as slow.
	if got := nsp.RoomSize("room"); got != n {
		b.Fatalf("%d sockets left in the room", got)
	}
}

var _ net.Conn = (*discardConn)(nil)
