package socketio

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/globalchat/globalchat/internal/testwait"
	"github.com/globalchat/globalchat/socketio/engineio"
)

func TestConnectTimeout(t *testing.T) {
	l := newLiveServer(t, Options{ConnectTimeout: 50 * time.Millisecond})
	c := l.dial(t)
	start := time.Now()
	c.expectClosed()
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("closed after %v", d)
	}
	testwait.For(t, "no connection", func() bool { return l.Connections() == 0 })
}

// A refused CONNECT does not stop the timeout: a client that never gets
// into a namespace is closed all the same.
func TestConnectTimeoutAfterRefusal(t *testing.T) {
	l := newLiveServer(t, Options{ConnectTimeout: 300 * time.Millisecond})
	l.Of("/private").Use(func(*Socket) error { return errors.New("no") })
	c := l.dial(t)
	c.send("0/private,")
	c.expect(`4/private,{"message":"no"}`)
	c.expectClosed()
	testwait.For(t, "no connection", func() bool { return l.Connections() == 0 })
}

func TestConnectErrors(t *testing.T) {
	l := newLiveServer(t, Options{})
	l.Of("/private").Use(func(*Socket) error {
		return &ConnectError{Message: "unauthorized", Data: map[string]string{"hint": "token"}}
	})
	l.Of("/plain").Use(func(*Socket) error { return errors.New("plain error") })
	c := l.dial(t)
	c.send("0/nope,")
	c.expect(`4/nope,{"message":"Invalid namespace"}`)
	c.send(`0/private,{"token":"x"}`)
	c.expect(`4/private,{"message":"unauthorized","data":{"hint":"token"}}`)
	c.send("0/plain,")
	c.expect(`4/plain,{"message":"plain error"}`)
	// The connection stays usable.
	c.connect("/")
	if n := l.Of("/private").Len(); n != 0 {
		t.Fatalf("%d refused sockets kept", n)
	}
}

// Packets for a namespace the client has not joined are ignored.
func TestEventBeforeConnect(t *testing.T) {
	l := newLiveServer(t, Options{})
	var calls atomic.Int64
	l.Of("/").OnConnection(func(s *Socket) {
		s.On("hello", func(s *Socket, e *Event) {
			s.Emit("count", calls.Add(1))
		})
	})
	c := l.dial(t)
	c.send(`2["hello"]`)
	c.send(`21["hello"]`)
	c.send(`2/chat,["hello"]`)
	c.send(`31[]`)
	c.send(`1`)
	c.send(`51-["hello",{"_placeholder":true,"num":0}]`)
	c.sendBinary([]byte{1})
	c.connect("/")
	c.send(`2["hello"]`)
	c.expect(`2["count",1]`)
}

func TestDisconnectLastNamespace(t *testing.T) {
	l := newLiveServer(t, Options{})
	l.Of("/chat")
	l.Of("/").OnConnection(func(s *Socket) {
		s.On("ping", func(s *Socket, e *Event) { e.Ack("pong") })
	})
	var reason atomic.Value
	ids := make(chan string, 1)
	l.Of("/chat").OnConnection(func(s *Socket) {
		ids <- s.ID()
		s.OnDisconnect(func(r Reason) { reason.Store(r) })
	})
	c := l.dial(t)
	c.connect("/")
	c.connect("/chat")
	id := <-ids
	if !l.Of("/chat").Connected(id) || l.Of("/").Connected(id) {
		t.Fatalf("Connected(%s) wrong while the socket is on /chat only", id)
	}
	c.send("1/chat,")
	testwait.For(t, "the /chat socket to go", func() bool { return l.Of("/chat").Len() == 0 })
	if l.Of("/chat").Connected(id) {
		t.Fatal("a socket gone is still Connected")
	}
	if r := reason.Load(); r != ReasonClientDisconnect {
		t.Fatalf("disconnect reason %v", r)
	}
	// Still connected to "/".
	c.send(`25["ping"]`)
	c.expect(`35["pong"]`)
	c.send("1")
	testwait.For(t, "the / socket to go", func() bool { return l.Of("/").Len() == 0 })
	c.sendEngine("1")
	c.expectClosed()
	testwait.For(t, "no connection", func() bool { return l.Connections() == 0 })
}

// suite: "should disconnect from the main namespace": the Engine.IO
// connection outlives its last namespace, heartbeats and all, as on the
// reference server (the client's Manager closes it when it means to);
// the client may join again, and one that neither joins nor leaves is
// closed after the connect timeout.
func TestDisconnectKeepsTheConnection(t *testing.T) {
	l := newLiveServer(t, Options{
		Engine:         engineio.Options{PingInterval: 50 * time.Millisecond, PingTimeout: time.Second},
		ConnectTimeout: 400 * time.Millisecond,
	})
	c := l.dial(t)
	c.connect("/")
	c.send("1")
	if p, err := c.readEngine(); err != nil || p != "2" {
		t.Fatalf("after DISCONNECT: %q %v, want a ping", p, err)
	}
	c.sendEngine("3")
	c.connect("/")
	c.send("1")
	start := time.Now()
	c.expectClosed()
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("closed after %v, before the connect timeout", d)
	}
	testwait.For(t, "no connection", func() bool { return l.Connections() == 0 })
}

func TestServerDisconnect(t *testing.T) {
	l := newLiveServer(t, Options{})
	l.Of("/").OnConnection(func(s *Socket) {
		s.On("bye", func(s *Socket, e *Event) { s.Disconnect() })
	})
	c := l.dial(t)
	c.connect("/")
	c.send(`2["bye"]`)
	c.expect("1")
	c.expectClosed()
	testwait.For(t, "no connection", func() bool { return l.Connections() == 0 })
}

func TestBinaryFromClient(t *testing.T) {
	l := newLiveServer(t, Options{})
	l.Of("/").OnConnection(func(s *Socket) {
		s.On("echo", func(s *Socket, e *Event) {
			v, err := e.Values()
			if err != nil {
				t.Errorf("Values: %v", err)
				return
			}
			e.Ack(v...)
		})
	})
	c := l.dial(t)
	c.connect("/")
	c.send(`52-3["echo",{"_placeholder":true,"num":1},"x",{"_placeholder":true,"num":0}]`)
	c.sendBinary([]byte("first"))
	c.sendBinary([]byte("second"))
	c.expect(`62-3[{"_placeholder":true,"num":0},"x",{"_placeholder":true,"num":1}]`)
	c.expect("bsecond")
	c.expect("bfirst")
}

// Binary the client sends out of turn is a broken client: closed.
func TestBinaryOutOfTurn(t *testing.T) {
	for name, send := range map[string]func(c *testClient){
		"binary without a packet": func(c *testClient) { c.sendBinary([]byte{1}) },
		"text while attachments are due": func(c *testClient) {
			c.send(`51-["e",{"_placeholder":true,"num":0}]`)
			c.send(`2["e"]`)
		},
		"invalid packet": func(c *testClient) { c.send(`2{}`) },
	} {
		t.Run(name, func(t *testing.T) {
			l := newLiveServer(t, Options{})
			c := l.dial(t)
			c.connect("/")
			send(c)
			c.expectClosed()
			testwait.For(t, "no connection", func() bool { return l.Connections() == 0 && l.Of("/").Len() == 0 })
		})
	}
}

// Attachments a client announces and holds back are bounded: ten a
// packet, as socket.io's parser allows, and MaxAttachmentBytes waiting.
func TestAttachmentBounds(t *testing.T) {
	l := newLiveServer(t, Options{MaxAttachmentBytes: 1000})
	l.Of("/").OnConnection(func(s *Socket) {
		s.On("e", func(s *Socket, e *Event) { e.Ack(len(e.Attachments)) })
	})
	ten := c10()
	c := l.dial(t)
	c.connect("/")
	c.send(`510-0["e",` + ten + `]`)
	for range 10 {
		c.sendBinary([]byte("x"))
	}
	c.expect(`30[10]`)

	c.send(`511-["e",` + ten + `,{"_placeholder":true,"num":10}]`)
	c.expectClosed()

	held := l.dial(t)
	held.connect("/")
	held.send(`53-["e",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1},{"_placeholder":true,"num":2}]`)
	held.sendBinary(make([]byte, 600))
	held.sendBinary(make([]byte, 600)) // 1200 bytes held: over the bound
	held.expectClosed()
	testwait.For(t, "no connection", func() bool { return l.Connections() == 0 })
}

// c10 is ten placeholders, comma-separated.
func c10() string {
	var parts []string
	for i := range 10 {
		parts = append(parts, `{"_placeholder":true,"num":`+strconv.Itoa(i)+`}`)
	}
	return strings.Join(parts, ",")
}

func TestEmitWithAck(t *testing.T) {
	l := newLiveServer(t, Options{})
	sockets := make(chan *Socket, 1)
	l.Of("/").OnConnection(func(s *Socket) { sockets <- s })
	c := l.dial(t)
	c.connect("/")
	s := <-sockets
	done := make(chan error, 1)
	go func() {
		ctx, cancel := contextWithTimeout()
		defer cancel()
		res, err := s.EmitWithAck(ctx, "ask", 1)
		if err == nil && (len(res) != 1 || string(res[0]) != `"answer"`) {
			err = errors.New("ack " + strconv.Quote(string(res[0])))
		}
		done <- err
	}()
	c.expect(`20["ask",1]`)
	c.send(`30["answer"]`)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// A socket that goes while waiting ends the wait.
	go func() {
		ctx, cancel := contextWithTimeout()
		defer cancel()
		_, err := s.EmitWithAck(ctx, "ask")
		done <- err
	}()
	c.expect(`21["ask"]`)
	c.send("1")
	if err := <-done; !errors.Is(err, ErrDisconnected) {
		t.Fatalf("EmitWithAck on a disconnected socket: %v", err)
	}
	if _, err := s.EmitWithAck(t.Context(), "late"); !errors.Is(err, ErrDisconnected) {
		t.Fatalf("EmitWithAck after the disconnect: %v", err)
	}
}

// Join after the socket is gone must not put it back in a room.
func TestJoinAfterDisconnect(t *testing.T) {
	l := newLiveServer(t, Options{})
	sockets := make(chan *Socket, 1)
	l.Of("/").OnConnection(func(s *Socket) { sockets <- s })
	c := l.dial(t)
	c.connect("/")
	s := <-sockets
	closed := make(chan struct{})
	s.OnDisconnect(func(Reason) { close(closed) })
	c.send("1")
	<-closed
	s.Join("late")
	if n := l.Of("/").RoomSize("late"); n != 0 {
		t.Fatalf("a gone socket joined a room (%d members)", n)
	}
	if s.Transport() != "websocket" || s.Recovered() {
		t.Fatal("socket accessors")
	}
}

// The transport's close reasons reach the socket.
func TestDisconnectReasons(t *testing.T) {
	l := newLiveServer(t, Options{Engine: engineio.Options{PingInterval: 100 * time.Millisecond, PingTimeout: 100 * time.Millisecond}})
	reasons := make(chan Reason, 1)
	l.Of("/").OnConnection(func(s *Socket) { s.OnDisconnect(func(r Reason) { reasons <- r }) })
	c := l.dial(t)
	c.connect("/")
	// No pong.
	select {
	case r := <-reasons:
		if r != Reason(engineio.ReasonPingTimeout) {
			t.Fatalf("reason %q", r)
		}
	case <-time.After(waitFor):
		t.Fatal("no disconnect")
	}
	c.expectClosed()
}

// A socket's handshake carries the CONNECT auth and what the connection
// kept of its request, the query included.
func TestHandshake(t *testing.T) {
	l := newLiveServer(t, Options{})
	got := make(chan Handshake, 1)
	l.Of("/").OnConnection(func(s *Socket) { got <- s.Handshake() })
	c := dialURL(t, l.wsURL("")+"&room=lobby")
	if open, err := c.readEngine(); err != nil || !strings.HasPrefix(open, "0") {
		t.Fatalf("open packet: %q %v", open, err)
	}
	c.send(`0{"token":"t"}`)
	select {
	case h := <-got:
		if string(h.Auth) != `{"token":"t"}` || h.Query.Get("room") != "lobby" || h.Query.Get("EIO") != "4" ||
			h.Header.Get("Upgrade") == "" || h.RemoteAddr == "" || h.Time.IsZero() {
			t.Fatalf("handshake %+v", h)
		}
	case <-time.After(waitFor):
		t.Fatal("not connected")
	}
}

// A handler that waits (on Redis, a database) does not hold the
// connection's reading: heartbeats are answered meanwhile, and the
// packets after it run after it, in order, the disconnect last.
func TestSlowHandlerKeepsTheConnectionRead(t *testing.T) {
	l := newLiveServer(t, Options{})
	release := make(chan struct{})
	var mu sync.Mutex
	var ran []string
	record := func(what string) {
		mu.Lock()
		ran = append(ran, what)
		mu.Unlock()
	}
	disconnected := make(chan struct{})
	l.Of("/").OnConnection(func(s *Socket) {
		s.On("slow", func(*Socket, *Event) { <-release; record("slow") })
		s.On("fast", func(_ *Socket, e *Event) { record("fast " + string(e.Args[0])) })
		s.OnDisconnect(func(Reason) { record("disconnect"); close(disconnected) })
	})
	c := l.dial(t)
	c.connect("/")
	c.send(`2["slow"]`)
	c.send(`2["fast",1]`)
	c.send(`2["fast",2]`)
	c.sendEngine("2")
	if p, err := c.readEngine(); err != nil || p != "3" { // read and answered while "slow" waits
		t.Fatalf("pong: %q %v", p, err)
	}
	c.send("1")
	close(release)
	<-disconnected
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"slow", "fast 1", "fast 2", "disconnect"}; !slices.Equal(ran, want) {
		t.Fatalf("ran %v, want %v", ran, want)
	}
}

// The inbox is bounded: a full one makes the reading wait, and drains.
func TestInboxBound(t *testing.T) {
	var b inbox
	release := make(chan struct{})
	var n atomic.Int64
	b.add(func() { <-release })
	for range maxInbox {
		b.add(func() { n.Add(1) })
	}
	added := make(chan struct{})
	go func() {
		b.add(func() { n.Add(1) })
		close(added)
	}()
	select {
	case <-added:
		t.Fatal("a job was queued past the bound")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	<-added
	b.do(func() {})
	if n.Load() != maxInbox+1 {
		t.Fatalf("%d jobs ran, want %d", n.Load(), maxInbox+1)
	}
}

// A drain closes a connection after the answer to the message it is
// handling, which runs off the read loop: the ack leaves before the close.
func TestDrainWaitsForTheHandlerInFlight(t *testing.T) {
	l := newLiveServer(t, Options{})
	release := make(chan struct{})
	started := make(chan struct{})
	l.Of("/").OnConnection(func(s *Socket) {
		s.On("store", func(_ *Socket, e *Event) {
			close(started)
			<-release
			e.Ack("stored")
		})
	})
	c := l.dial(t)
	c.connect("/")
	c.send(`20["store"]`)
	<-started
	drained := make(chan error, 1)
	go func() { drained <- l.Drain(t.Context(), 0) }()
	// The drain has begun once new sessions are refused.
	testwait.For(t, "the drain to begin", func() bool {
		status, _ := httpDo(t, http.DefaultClient, "GET", l.pollURL(""), "")
		return status == http.StatusServiceUnavailable
	})
	close(release)
	c.expect(`30["stored"]`)
	c.expectClosed()
	if err := <-drained; err != nil {
		t.Fatal(err)
	}
}
