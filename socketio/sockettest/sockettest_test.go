package sockettest_test

import (
	"context"
	"errors"
	"testing"

	"github.com/globalchat/globalchat/socketio"
	"github.com/globalchat/globalchat/socketio/sockettest"
)

// The client against a real server: refusal, events in order, acks,
// server-side close.
func TestClientSpeaksToTheServer(t *testing.T) {
	srv, err := socketio.NewServer(socketio.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	nsp := srv.Of("/")
	nsp.Use(func(s *socketio.Socket) error {
		if string(s.Handshake().Auth) == `{"no":true}` {
			return errors.New("go away")
		}
		return nil
	})
	nsp.OnConnection(func(s *socketio.Socket) {
		s.Join("room")
		s.Emit("hello", "you")
		s.On("echo", func(s *socketio.Socket, e *socketio.Event) {
			nsp.To("room").Emit("said", e.Args[0])
			if e.HasAck() {
				e.Ack("got it")
			}
		})
		s.On("bye", func(s *socketio.Socket, e *socketio.Event) { s.CloseConnection() })
	})

	if _, err := sockettest.Open(t, srv, sockettest.Options{}).Join(map[string]bool{"no": true}); err == nil || err.(*sockettest.ConnectError).Message != "go away" {
		t.Fatalf("refused connect: %v", err)
	}
	a, _ := sockettest.Connect(t, srv, nil, sockettest.Options{})
	b, _ := sockettest.Connect(t, srv, nil, sockettest.Options{Address: "198.51.100.1"})
	for _, c := range []*sockettest.Client{a, b} {
		var who string
		if ev := c.Next(); ev.Name != "hello" {
			t.Fatalf("first event %q", ev.Name)
		} else {
			ev.Decode(t, 0, &who)
		}
		if who != "you" {
			t.Fatalf("hello %q", who)
		}
	}
	a.Emit("echo", "one")
	ack := a.EmitWithAck("echo", "two")
	if len(ack) != 1 || string(ack[0]) != `"got it"` {
		t.Fatalf("ack %s", ack)
	}
	for _, want := range []string{`"one"`, `"two"`} {
		if ev := b.Next(); ev.Name != "said" || string(ev.Args[0]) != want {
			t.Fatalf("b got %s %s, want said %s", ev.Name, ev.Args, want)
		}
	}
	if ev := a.Expect("said"); string(ev.Args[0]) != `"one"` {
		t.Fatalf("a got %s", ev.Args)
	}
	a.Emit("bye")
	a.WaitClosed()
}
