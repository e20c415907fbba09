package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// scripted is a WebSocket server for one connection at a time that
// answers the Engine.IO and Socket.IO handshake, then runs the test's
// script on the raw connection.
type scripted struct {
	url  string
	open string // the Engine.IO open packet
}

func startScripted(t *testing.T, script func(conn net.Conn)) *scripted {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	s := &scripted{url: "http://" + ln.Addr().String(), open: `0{"sid":"e1","pingInterval":25000,"pingTimeout":20000}`}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				if _, err := ws.Upgrade(conn); err != nil {
					return
				}
				wsutil.WriteServerText(conn, []byte(s.open))
				msg, err := wsutil.ReadClientText(conn)
				if err != nil || !bytes.HasPrefix(msg, []byte("40")) {
					return
				}
				script(conn)
			}()
		}
	}()
	return s
}

// frame encodes one unmasked server frame.
func frame(op ws.OpCode, fin bool, p []byte) []byte {
	var b bytes.Buffer
	ws.WriteHeader(&b, ws.Header{Fin: fin, OpCode: op, Length: int64(len(p))})
	b.Write(p)
	return b.Bytes()
}

// readFrame reads one client frame: its payload if it is of type op.
func readFrame(conn net.Conn, op ws.OpCode) string {
	h, err := ws.ReadHeader(conn)
	if err != nil {
		return err.Error()
	}
	p := make([]byte, h.Length)
	if _, err := io.ReadFull(conn, p); err != nil {
		return err.Error()
	}
	ws.Cipher(p, h.Mask, 0)
	if h.OpCode != op {
		return fmt.Sprintf("opcode %v: %q", h.OpCode, p)
	}
	return string(p)
}

func dialScripted(t *testing.T, s *scripted) *Client {
	t.Helper()
	c, err := Dial(context.Background(), DialOptions{URL: s.url, Auth: map[string]string{}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRunReadsWhatArrives: every way a message can arrive reaches the
// handler whole and in order: behind the CONNECT reply in one write, split
// across writes, bigger than the poller's buffer, fragmented; pings of
// both layers are answered; a close frame ends Run with io.EOF.
func TestRunReadsWhatArrives(t *testing.T) {
	big := `2["big","` + strings.Repeat("x", 3*pollBuffer) + `"]`
	pongs := make(chan string, 2)
	s := startScripted(t, func(conn net.Conn) {
		write := func(b []byte) {
			conn.Write(b)
			time.Sleep(20 * time.Millisecond)
		}
		write(append(frame(ws.OpText, true, []byte(`40{"sid":"s1"}`)), frame(ws.OpText, true, []byte(`42["a"]`))...))
		split := frame(ws.OpText, true, []byte(`42["b"]`))
		write(split[:1])
		write(split[1:4])
		write(split[4:])
		write(frame(ws.OpText, true, []byte("4"+big)))
		write(frame(ws.OpText, false, []byte(`42["c`)))
		write(frame(ws.OpContinuation, true, []byte(`"]`)))
		write(frame(ws.OpText, true, []byte("2")))
		pongs <- readFrame(conn, ws.OpText)
		write(frame(ws.OpPing, true, []byte("hi")))
		pongs <- readFrame(conn, ws.OpPong)
		write(frame(ws.OpText, true, []byte(`42["d"]`)))
		conn.Write(frame(ws.OpClose, true, nil))
	})
	c := dialScripted(t, s)
	if string(c.ConnectReply) != `{"sid":"s1"}` {
		t.Fatalf("connect reply %q", c.ConnectReply)
	}
	var got []string
	err := c.Run(func(pkt []byte) { got = append(got, string(pkt)) })
	if !errors.Is(err, io.EOF) {
		t.Errorf("Run returned %v, want EOF", err)
	}
	want := []string{`2["a"]`, `2["b"]`, big, `2["c"]`, `2["d"]`}
	if len(got) != len(want) {
		t.Fatalf("got %d packets, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("packet %d: %q, want %q", i, clip([]byte(got[i])), clip([]byte(want[i])))
		}
	}
	if p := <-pongs; p != "3" {
		t.Errorf("Engine.IO ping answered %q", p)
	}
	if p := <-pongs; p != "hi" {
		t.Errorf("WebSocket ping answered %q", p)
	}
}

// TestCloseEndsRun: Close, from another goroutine or from the handler
// itself, ends Run with net.ErrClosed; Close before Run too.
func TestCloseEndsRun(t *testing.T) {
	s := startScripted(t, func(conn net.Conn) {
		conn.Write(frame(ws.OpText, true, []byte(`40{"sid":"s1"}`)))
		for range 50 {
			if _, err := conn.Write(frame(ws.OpText, true, []byte(`42["tick"]`))); err != nil {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	run := func(c *Client, h Handler) error {
		errc := make(chan error, 1)
		go func() { errc <- c.Run(h) }()
		select {
		case err := <-errc:
			return err
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not return")
			return nil
		}
	}

	c := dialScripted(t, s)
	time.AfterFunc(50*time.Millisecond, func() { c.Close() })
	if err := run(c, func([]byte) {}); !errors.Is(err, net.ErrClosed) {
		t.Errorf("closed from outside: Run returned %v", err)
	}

	c = dialScripted(t, s)
	if err := run(c, func([]byte) { c.Close() }); !errors.Is(err, net.ErrClosed) {
		t.Errorf("closed by the handler: Run returned %v", err)
	}

	c = dialScripted(t, s)
	c.Close()
	if err := run(c, func([]byte) {}); !errors.Is(err, net.ErrClosed) {
		t.Errorf("closed before Run: Run returned %v", err)
	}
}

// TestSilentServerEndsRun: a server that says nothing for longer than its
// ping interval and timeout is gone: the idle sweep ends the connection.
func TestSilentServerEndsRun(t *testing.T) {
	s := startScripted(t, func(conn net.Conn) {
		conn.Write(frame(ws.OpText, true, []byte(`40{"sid":"s1"}`)))
		time.Sleep(10 * time.Second)
	})
	s.open = `0{"sid":"e1","pingInterval":100,"pingTimeout":100}`
	c := dialScripted(t, s)
	start := time.Now()
	err := c.Run(func([]byte) {})
	if err == nil || !strings.Contains(err.Error(), "nothing received") {
		t.Errorf("Run returned %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("ended after %v", d)
	}
}

// TestManyConnectionsOverPollers: connections spread over the pollers each
// get their own messages, all of them.
func TestManyConnectionsOverPollers(t *testing.T) {
	const conns, msgs = 40, 200
	s := startScripted(t, func(conn net.Conn) {
		conn.Write(frame(ws.OpText, true, []byte(`40{"sid":"s1"}`)))
		var b []byte
		for i := range msgs {
			b = append(b, frame(ws.OpText, true, []byte(`42["m",`+strconv.Itoa(i)+`]`))...)
			if i%7 == 0 { // some alone, some many to a write
				conn.Write(b)
				b = b[:0]
			}
		}
		conn.Write(append(b, frame(ws.OpClose, true, nil)...))
	})
	var wg sync.WaitGroup
	for range conns {
		c := dialScripted(t, s)
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := 0
			c.Run(func(pkt []byte) {
				if string(pkt) != `2["m",`+strconv.Itoa(n)+`]` {
					t.Errorf("got %q, want message %d", pkt, n)
				}
				n++
			})
			if n != msgs {
				t.Errorf("got %d messages, want %d", n, msgs)
			}
		}()
	}
	wg.Wait()
}
