package socketio_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/globalchat/globalchat/socketio"
	"github.com/globalchat/globalchat/socketio/sockettest"
)

// noReplay is an application Replayer that knows no offset.
type noReplay struct{}

func (noReplay) Replay(context.Context, string, []string, string) ([]socketio.Broadcast, bool, error) {
	return nil, false, nil
}

// greeter starts a server whose connection handler greets with
// JoinAndGreet; during build, it broadcasts what during says to the room.
func greeter(t *testing.T, recovery *socketio.RecoveryOptions, offset string, during func(*socketio.Namespace)) *socketio.Server {
	t.Helper()
	srv, err := socketio.NewServer(socketio.Options{Recovery: recovery})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	nsp := srv.Of("/")
	nsp.OnConnection(func(s *socketio.Socket) {
		s.JoinAndGreet([]string{"room"}, "hello", func() ([]any, string) {
			during(nsp)
			return []any{map[string]int{"n": 1}}, offset
		})
	})
	return srv
}

func lastString(t *testing.T, e sockettest.Event) string {
	t.Helper()
	var s string
	if len(e.Args) < 2 || json.Unmarshal(e.Args[len(e.Args)-1], &s) != nil {
		return ""
	}
	return s
}

// A greeting carries the offset build gives: a client cut before any
// broadcast reached it holds one to recover from.
func TestGreetingCarriesTheOffset(t *testing.T) {
	srv := greeter(t, &socketio.RecoveryOptions{Replayer: noReplay{}}, "41", func(*socketio.Namespace) {})
	c, _ := sockettest.Connect(t, srv, nil, sockettest.Options{})
	if e := c.Expect("hello"); len(e.Args) != 2 || lastString(t, e) != "41" {
		t.Fatalf("greeting %s, want its argument and the offset 41", e.Args)
	}
}

// A broadcast that reaches the room while the greeting is built leaves
// before it, and the greeting carries that broadcast's offset, not the
// older one build read: the client's offset never moves back.
func TestGreetingAfterBroadcastsKeepsTheirOffset(t *testing.T) {
	srv := greeter(t, &socketio.RecoveryOptions{Replayer: noReplay{}}, "41", func(n *socketio.Namespace) {
		n.To("room").Local().WithOffset("42").Emit("news", "a")
		n.To("room").Local().Emit("presence", map[string]int{"online": 2})
	})
	c, _ := sockettest.Connect(t, srv, nil, sockettest.Options{})
	if e := c.Next(); e.Name != "news" || lastString(t, e) != "42" {
		t.Fatalf("first %s %s, want the broadcast with offset 42", e.Name, e.Args)
	}
	if e := c.Next(); e.Name != "presence" {
		t.Fatalf("second %s, want the broadcast without offset", e.Name)
	}
	if e := c.Expect("hello"); lastString(t, e) != "42" {
		t.Fatalf("greeting %s, want the offset 42 of the broadcast before it", e.Args)
	}
	srv.Of("/").To("room").Local().WithOffset("43").Emit("news", "b")
	if e := c.Expect("news"); lastString(t, e) != "43" {
		t.Fatalf("after the greeting %s, want the broadcast with offset 43", e.Args)
	}
}

// Without recovery, offsets mean nothing to a client: none is added.
func TestGreetingWithoutRecoveryHasNoOffset(t *testing.T) {
	srv := greeter(t, nil, "41", func(*socketio.Namespace) {})
	c, _ := sockettest.Connect(t, srv, nil, sockettest.Options{})
	if e := c.Expect("hello"); len(e.Args) != 1 {
		t.Fatalf("greeting %s, want its argument alone", e.Args)
	}
}
