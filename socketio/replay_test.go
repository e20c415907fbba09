package socketio_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/globalchat/globalchat/socketio"
	"github.com/globalchat/globalchat/socketio/sockettest"
)

// replayFunc is a Replayer made of a function.
type replayFunc func(ctx context.Context, nsp string, rooms []string, offset string) ([]socketio.Broadcast, bool, error)

func (f replayFunc) Replay(ctx context.Context, nsp string, rooms []string, offset string) ([]socketio.Broadcast, bool, error) {
	return f(ctx, nsp, rooms, offset)
}

// notifySessions tells of each session saved.
type notifySessions struct {
	socketio.SessionStore
	saved chan string
}

func (s notifySessions) Save(ctx context.Context, st socketio.SessionState, ttl time.Duration) error {
	err := s.SessionStore.Save(ctx, st, ttl)
	s.saved <- st.PID
	return err
}

// A broadcast the replay already had may reach the socket after the
// replay is out: the replay read it while its broadcast was still walking
// the room. It is dropped; the first newer broadcast ends the check.
func TestReplayedBroadcastArrivingLateIsDropped(t *testing.T) {
	five, err := socketio.EncodeBroadcast("/", "5", "news", "five")
	if err != nil {
		t.Fatal(err)
	}
	sessions := notifySessions{socketio.NewMemorySessions(), make(chan string, 4)}
	replay := replayFunc(func(context.Context, string, []string, string) ([]socketio.Broadcast, bool, error) {
		return []socketio.Broadcast{five}, true, nil
	})
	srv, err := socketio.NewServer(socketio.Options{Recovery: &socketio.RecoveryOptions{Sessions: sessions, Replayer: replay}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	nsp := srv.Of("/")
	nsp.OnConnection(func(s *socketio.Socket) { s.Join("room") })

	c, reply := sockettest.Connect(t, srv, nil, sockettest.Options{})
	var first struct{ PID string }
	json.Unmarshal(reply, &first)
	c.Drop()
	select {
	case <-sessions.saved:
	case <-time.After(sockettest.Wait):
		t.Fatal("no session saved after the drop")
	}
	back, _ := sockettest.Connect(t, srv, map[string]string{"pid": first.PID, "offset": "4"}, sockettest.Options{})
	if e := back.Next(); e.Name != "news" || lastString(t, e) != "5" {
		t.Fatalf("replayed %s %s, want news at offset 5", e.Name, e.Args)
	}
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
