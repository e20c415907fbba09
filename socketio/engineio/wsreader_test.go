package engineio

import (
	"bufio"
	"bytes"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"testing"
	"testing/iotest"

	"github.com/gobwas/ws"
)

// wsReader hands back the stream as it came, whatever the sizes of the
// reads and of the source's chunks, and holds no buffer once drained.
func TestWSReaderKeepsTheStream(t *testing.T) {
	data := make([]byte, 20000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	r := &wsReader{src: iotest.HalfReader(bytes.NewReader(data))}
	var got []byte
	rng := rand.New(rand.NewPCG(1, 2))
	for len(got) < len(data) {
		if rng.IntN(3) == 0 {
			r.borrow()
		}
		p := make([]byte, 1+rng.IntN(3000))
		n, err := io.ReadFull(r, p[:min(len(p), len(data)-len(got))])
		if err != nil {
			t.Fatalf("after %d bytes: %v", len(got), err)
		}
		got = append(got, p[:n]...)
		r.release()
	}
	if !bytes.Equal(got, data) {
		t.Fatal("the stream changed")
	}
	if r.br != nil {
		t.Fatal("a drained reader keeps its buffer")
	}
	if _, err := r.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("at the end: %v, want EOF", err)
	}
}

// writeFrames on a TCP connection (writev) writes every frame intact and
// in order, even more frames than one writev takes (IOV_MAX).
func TestWriteFramesWritev(t *testing.T) {
	server, client := tcpPair(t)
	frames := manyFrames(3000)
	errc := make(chan error, 1)
	go func() { errc <- writeFrames(server, frames) }()
	readFrames(t, bufio.NewReader(client), frames)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// writeNow writes what the socket takes and returns at once, keeping the
// rest, which write then sends after it, in order; the connection is
// written without waiting again afterwards.
func TestWriteNowLeavesTheRest(t *testing.T) {
	server, client := tcpPair(t)
	server.(*net.TCPConn).SetWriteBuffer(16 << 10)
	frames := manyFrames(3000)
	f := encodeFrames(frames)
	done, err := f.writeNow(server) // the client reads nothing yet
	if err != nil || done || len(f.left) == 0 {
		t.Fatalf("writeNow into a full socket: done %v, err %v, %d buffers left", done, err, len(f.left))
	}
	errc := make(chan error, 1)
	go func() { errc <- f.write(server) }()
	br := bufio.NewReader(client)
	readFrames(t, br, frames)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	more := []frame{{typ: typeMessage, data: []byte("after")}}
	if done, err := encodeFrames(more).writeNow(server); !done || err != nil {
		t.Fatalf("writeNow after a write: done %v, err %v", done, err)
	}
	readFrames(t, br, more)
}

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	return server, client
}

// manyFrames returns n small text frames, with a large binary one among
// them.
func manyFrames(n int) []frame {
	frames := make([]frame, n)
	for i := range frames {
		frames[i] = frame{typ: typeMessage, data: []byte(strconv.Itoa(i))}
	}
	frames[7] = frame{typ: typeMessage, data: bytes.Repeat([]byte("x"), 1<<20), binary: true}
	return frames
}

// readFrames reads the frames wanted, and fails on any other.
func readFrames(t *testing.T, br *bufio.Reader, frames []frame) {
	t.Helper()
	for i, want := range frames {
		//lint:ignore SA1019 the test reads frames of its own server, whose sizes it knows
		f, err := ws.ReadFrame(br)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		payload := append([]byte{typeMessage}, want.data...)
		if want.binary {
			payload = want.data
		}
		if !bytes.Equal(f.Payload, payload) || (f.Header.OpCode == ws.OpBinary) != want.binary {
			t.Fatalf("frame %d: %q (%v), want %q", i, clip(f.Payload), f.Header.OpCode, clip(payload))
		}
	}
}

func clip(b []byte) []byte { return b[:min(len(b), 20)] }
