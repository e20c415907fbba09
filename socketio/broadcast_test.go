package socketio

import (
	"context"
	"slices"
	"sync"
	"testing"
)

// fakeAdapter records what is published and lets the test play another
// instance through deliver.
type fakeAdapter struct {
	mu        sync.Mutex
	published []Broadcast
	deliver   func(Broadcast)
	closed    bool
}

var _ Adapter = (*fakeAdapter)(nil)

func (a *fakeAdapter) Start(_ context.Context, deliver func(Broadcast)) error {
	a.mu.Lock()
	a.deliver = deliver
	a.mu.Unlock()
	return nil
}

func (a *fakeAdapter) Publish(_ context.Context, b Broadcast) error {
	a.mu.Lock()
	a.published = append(a.published, b)
	a.mu.Unlock()
	return nil
}

func (a *fakeAdapter) Close() error {
	a.mu.Lock()
	a.closed = true
	a.mu.Unlock()
	return nil
}

func (a *fakeAdapter) publishedCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.published)
}

// roomFixture is three clients of "/": a in rooms r and s, b in r, c in
// none, plus d connected to "/chat" only.
type roomFixture struct {
	l          *liveServer
	adapter    *fakeAdapter
	a, b, c, d *testClient
	sa, sb, sc *Socket
}

func newRoomFixture(t *testing.T) *roomFixture {
	f := &roomFixture{adapter: &fakeAdapter{}}
	f.l = newLiveServer(t, Options{Adapter: f.adapter})
	sockets := make(chan *Socket, 3)
	f.l.Of("/").OnConnection(func(s *Socket) { sockets <- s })
	f.l.Of("/chat")
	join := func() (*testClient, *Socket) {
		c := f.l.dial(t)
		c.connect("/")
		return c, <-sockets
	}
	f.a, f.sa = join()
	f.b, f.sb = join()
	f.c, f.sc = join()
	f.d = f.l.dial(t)
	f.d.connect("/chat")
	f.sa.Join("r", "s")
	f.sb.Join("r")
	return f
}

// sentinel broadcasts a marker to everyone in "/" and "/chat" and checks
// it is the next thing each client gets: what was not expected before it
// was not received.
func (f *roomFixture) sentinel(t *testing.T) {
	t.Helper()
	f.l.Of("/").To().Local().Emit("sentinel")
	f.l.Of("/chat").To().Local().Emit("sentinel")
	for _, c := range []*testClient{f.a, f.b, f.c} {
		c.expect(`2["sentinel"]`)
	}
	f.d.expect(`2/chat,["sentinel"]`)
}

func TestBroadcastRooms(t *testing.T) {
	f := newRoomFixture(t)
	nsp := f.l.Of("/")
	if n := nsp.RoomSize("r"); n != 2 {
		t.Fatalf("room r has %d members", n)
	}

	if err := nsp.Emit("all", 1); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*testClient{f.a, f.b, f.c} {
		c.expect(`2["all",1]`)
	}
	f.sentinel(t)

	nsp.To("r").Emit("to-r")
	f.a.expect(`2["to-r"]`)
	f.b.expect(`2["to-r"]`)
	f.sentinel(t)

	// a is in both rooms and gets it once.
	nsp.To("r", "s").Emit("r-or-s")
	f.a.expect(`2["r-or-s"]`)
	f.b.expect(`2["r-or-s"]`)
	f.sentinel(t)

	// A socket's own id is a room.
	nsp.To(f.sc.ID()).Emit("private")
	f.c.expect(`2["private"]`)
	f.sentinel(t)

	nsp.To("nobody").Emit("lost")
	f.sentinel(t)
}

func TestBroadcastExcept(t *testing.T) {
	f := newRoomFixture(t)
	nsp := f.l.Of("/")

	nsp.To("r").Except(f.sb.ID()).Emit("r-but-b")
	f.a.expect(`2["r-but-b"]`)
	f.sentinel(t)

	nsp.To().Except("r").Emit("all-but-r")
	f.c.expect(`2["all-but-r"]`)
	f.sentinel(t)

	nsp.To("r").Except("s").Emit("r-but-s")
	f.b.expect(`2["r-but-s"]`)
	f.sentinel(t)

	// Operators are values: a derived one leaves its parent alone.
	base := nsp.To("r")
	base.Except("r").Emit("none")
	base.Emit("base")
	f.a.expect(`2["base"]`)
	f.b.expect(`2["base"]`)
	f.sentinel(t)

	// What is published carries the same selection and bytes.
	f.adapter.mu.Lock()
	first := f.adapter.published[0]
	f.adapter.mu.Unlock()
	if first.Namespace != "/" || !slices.Equal(first.Rooms, []string{"r"}) || !slices.Equal(first.Except, []string{f.sb.ID()}) ||
		string(first.Packet) != `2["r-but-b"]` || first.Attachments != nil {
		t.Fatalf("published %+v", first)
	}
}

func TestBroadcastLocalNotPublished(t *testing.T) {
	f := newRoomFixture(t)
	nsp := f.l.Of("/")
	f.sentinel(t) // local: nothing published
	if n := f.adapter.publishedCount(); n != 0 {
		t.Fatalf("%d local broadcasts published", n)
	}
	nsp.To("r").Local().Emit("local")
	f.a.expect(`2["local"]`)
	f.b.expect(`2["local"]`)
	if n := f.adapter.publishedCount(); n != 0 {
		t.Fatalf("%d local broadcasts published", n)
	}
	nsp.To("r").Emit("global", []byte{1, 2})
	f.a.expect(`51-["global",{"_placeholder":true,"num":0}]`)
	f.a.expect("b\x01\x02")
	f.b.expect(`51-["global",{"_placeholder":true,"num":0}]`)
	f.b.expect("b\x01\x02")
	f.adapter.mu.Lock()
	defer f.adapter.mu.Unlock()
	if len(f.adapter.published) != 1 || string(f.adapter.published[0].Packet) != `51-["global",{"_placeholder":true,"num":0}]` ||
		len(f.adapter.published[0].Attachments) != 1 {
		t.Fatalf("published %+v", f.adapter.published)
	}
}

func TestBroadcastRemoteDelivered(t *testing.T) {
	f := newRoomFixture(t)
	deliver := f.adapter.deliver
	deliver(Broadcast{Namespace: "/", Rooms: []string{"r"}, Except: []string{"s"}, Packet: []byte(`2["remote",2]`)})
	f.b.expect(`2["remote",2]`)
	f.sentinel(t)

	deliver(Broadcast{Namespace: "/", Packet: []byte(`51-["bin",{"_placeholder":true,"num":0}]`), Attachments: [][]byte{{9}}})
	for _, c := range []*testClient{f.a, f.b, f.c} {
		c.expect(`51-["bin",{"_placeholder":true,"num":0}]`)
		c.expect("b\x09")
	}
	deliver(Broadcast{Namespace: "/chat", Packet: []byte(`2/chat,["in chat"]`)})
	f.d.expect(`2/chat,["in chat"]`)
	// A namespace this instance does not have: nothing, no panic.
	deliver(Broadcast{Namespace: "/unknown", Packet: []byte(`2/unknown,["x"]`)})
	f.sentinel(t)
	if n := f.adapter.publishedCount(); n != 0 {
		t.Fatalf("remote broadcasts published again: %d", n)
	}
}

func TestShutdownClosesAdapter(t *testing.T) {
	a := &fakeAdapter{}
	s, err := NewServer(Options{Adapter: a})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !a.closed {
		t.Fatal("adapter not closed")
	}
}
