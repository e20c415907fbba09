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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()

	const n = 3000
	frames := make([]frame, n)
	for i := range frames {
		frames[i] = frame{typ: typeMessage, data: []byte(strconv.Itoa(i))}
	}
	frames[7] = frame{typ: typeMessage, data: bytes.Repeat([]byte("x"), 70000), binary: true}
	errc := make(chan error, 1)
	go func() { errc <- writeFrames(server, frames) }()
	br := bufio.NewReader(client)
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
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func clip(b []byte) []byte { return b[:min(len(b), 20)] }
