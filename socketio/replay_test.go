package socketio_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/globalchat/globalchat/socketio"
	"github.com/globalchat/globalchat/socketio/sockettest"
)

// replayFunc is a Replayer made of a function.
type replayFunc func(ctx context.Context, nsp string, rooms []string, offset string) ([]socketio.Broadcast, bool, error)

func (f replayFunc) Replay(ctx context.Context, nsp string, rooms []string, offset string) ([]socketio.Broadcast, bool, error) {
	return f(ctx, nsp, rooms, offset)
}

// recovering connects a socket to room "room", drops it and brings it back
// with offset 4; the replay is a broadcast at offset 5, and during returns
// what the server broadcasts while the replay is read (while the socket
// holds). It returns the namespace and the recovered client, once it got
// the replayed broadcast.
func recovering(t *testing.T, during func(nsp *socketio.Namespace)) (*socketio.Namespace, *sockettest.Client) {
	t.Helper()
	five, err := socketio.EncodeBroadcast("/", "5", "news", "five")
	if err != nil {
		t.Fatal(err)
	}
	var nsp *socketio.Namespace
	sessions := sockettest.NewSavedSessions()
	replay := replayFunc(func(context.Context, string, []string, string) ([]socketio.Broadcast, bool, error) {
		during(nsp)
		return []socketio.Broadcast{five}, true, nil
	})
	srv, err := socketio.NewServer(socketio.Options{Recovery: &socketio.RecoveryOptions{Sessions: sessions, Replayer: replay}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	nsp = srv.Of("/")
	nsp.OnConnection(func(s *socketio.Socket) { s.Join("room") })

	c, reply := sockettest.Connect(t, srv, nil, sockettest.Options{})
	back, _ := sockettest.Recover(t, srv, sessions, c, reply, "4")
	if e := back.Next(); e.Name != "news" || lastString(t, e) != "5" {
		t.Fatalf("replayed %s %s, want news at offset 5", e.Name, e.Args)
	}
	return nsp, back
}

// A broadcast the replay already had may reach the socket after the
// replay is out: the replay read it while its broadcast was still walking
// the room. It is dropped; the first newer broadcast ends the check.
func TestReplayedBroadcastArrivingLateIsDropped(t *testing.T) {
	nsp, back := recovering(t, func(*socketio.Namespace) {})
	nsp.To("room").Local().WithOffset("5").Emit("news", "five") // late
	nsp.To("room").Local().WithOffset("6").Emit("news", "six")
	if e := back.Next(); lastString(t, e) != "6" {
		t.Fatalf("after the replay %s, want only the newer broadcast (6)", e.Args)
	}
	nsp.To("room").Local().WithOffset("5").Emit("news", "five again")
	if e := back.Next(); lastString(t, e) != "5" {
		t.Fatalf("after a newer broadcast %s, want the check over", e.Args)
	}
}

// A broadcast without an offset (a chat's late message) is never taken for
// one the replay had, whether it comes while the socket holds or while it
// checks after the replay, and it does not end the check: the replayed
// offset is still dropped until the first newer one.
func TestBroadcastWithoutOffsetIsNotTakenForAReplayedOne(t *testing.T) {
	nsp, back := recovering(t, func(nsp *socketio.Namespace) {
		nsp.To("room").Local().WithOffset("5").Emit("news", "five") // held, then dropped
		nsp.To("room").Local().Emit("news", "held")
	})
	nsp.To("room").Local().Emit("news", "checked")
	nsp.To("room").Local().WithOffset("5").Emit("news", "five") // still dropped
	nsp.To("room").Local().WithOffset("6").Emit("news", "six")
	nsp.To("room").Local().WithOffset("5").Emit("news", "five again")
	got := wordsAt(t, back, 4)
	if fmt.Sprint(got) != "[held@ checked@ six@6 five again@5]" {
		t.Fatalf("after the replay %v, want both without an offset, six, then the check over", got)
	}
}

// A broadcast without an offset but with a key is known by it: the
// replay (offset 5) had key 5, so held or checked it is dropped; key 3,
// which the replay did not have, is delivered and does not end the
// check; offset 6 does, and key 5 then goes through.
func TestKeyedBroadcastIsDroppedWhenReplayed(t *testing.T) {
	nsp, back := recovering(t, func(nsp *socketio.Namespace) {
		nsp.To("room").Local().WithKey("5").Emit("news", "held five")
	})
	nsp.To("room").Local().WithKey("5").Emit("news", "checked five")
	nsp.To("room").Local().WithKey("3").Emit("news", "three")
	nsp.To("room").Local().WithKey("5").Emit("news", "five still")
	nsp.To("room").Local().WithOffset("6").Emit("news", "six")
	nsp.To("room").Local().WithKey("5").Emit("news", "five after")
	got := wordsAt(t, back, 3)
	if fmt.Sprint(got) != "[three@ six@6 five after@]" {
		t.Fatalf("after the replay %v, want three, six, then five once the check is over", got)
	}
}

// wordsAt reads n events of one word each, as word@offset.
func wordsAt(t *testing.T, c *sockettest.Client, n int) []string {
	t.Helper()
	var got []string
	for range n {
		e := c.Next()
		var word string
		e.Decode(t, 0, &word)
		got = append(got, word+"@"+lastString(t, e))
	}
	return got
}
