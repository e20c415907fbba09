package chat

import (
	"context"
	"slices"
	"testing"

	"github.com/globalchat/globalchat"
	"github.com/globalchat/globalchat/inmem"
	"github.com/globalchat/globalchat/socketio"
)

func seqs(msgs []globalchat.Message) []int64 {
	out := make([]int64, len(msgs))
	for i, m := range msgs {
		out[i] = m.Seq
	}
	return out
}

func msgs(seq ...int64) []globalchat.Message {
	out := make([]globalchat.Message, len(seq))
	for i, s := range seq {
		out[i] = globalchat.Message{Seq: s}
	}
	return out
}

func TestMergeBySeq(t *testing.T) {
	got := seqs(mergeBySeq(msgs(1, 2, 3, 5), msgs(3, 4, 5, 6), 5))
	want := []int64{2, 3, 4, 5, 6}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}

func TestReplayerReadsTheCacheThenTheStore(t *testing.T) {
	ctx := context.Background()
	bus := inmem.NewBus(inmem.BusOptions{Capacity: 3})
	defer bus.Close()
	bus.Subscribe(-1, func(globalchat.Message) {})
	var stored []globalchat.Message
	for i := 0; i < 5; i++ {
		m, _, err := bus.Publish(ctx, globalchat.Message{ID: string(rune('a' + i)), Content: "x"})
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, m)
	}
	r := Replayer{Bus: bus, Store: &memStore{msgs: stored}}
	room := []string{globalchat.Room}

	missed, ok, err := r.Replay(ctx, "/", room, "3") // in the cache
	if got := offsets(t, missed); err != nil || !ok || !slices.Equal(got, []string{"4", "5"}) {
		t.Fatalf("from the cache: %v %v %v, want 4 and 5", got, ok, err)
	}
	missed, ok, err = r.Replay(ctx, "/", room, "1") // older than the cache
	if got := offsets(t, missed); err != nil || !ok || !slices.Equal(got, []string{"2", "3", "4", "5"}) {
		t.Fatalf("from the store: %v %v %v, want 2 to 5", got, ok, err)
	}
	// Not further than this instance has delivered: the rest comes live.
	r.Delivered = func() int64 { return 4 }
	missed, ok, err = r.Replay(ctx, "/", room, "1")
	if got := offsets(t, missed); err != nil || !ok || !slices.Equal(got, []string{"2", "3", "4"}) {
		t.Fatalf("delivered up to 4: %v %v %v, want 2 to 4", got, ok, err)
	}
	r.Delivered = nil
	for _, bad := range []string{"x", "-1"} {
		if _, ok, _ := r.Replay(ctx, "/", room, bad); ok {
			t.Errorf("offset %q accepted", bad)
		}
	}
	if _, ok, _ := r.Replay(ctx, "/", []string{"elsewhere"}, "1"); ok {
		t.Error("a session outside the room was replayed")
	}
}

// offsets returns the offsets of replayed chat:message packets.
func offsets(t *testing.T, missed []socketio.Broadcast) []string {
	out := make([]string, len(missed))
	for i, b := range missed {
		out[i] = offsetOfPacket(t, b.Packet)
	}
	return out
}

// offsetOfPacket returns the last argument of an encoded chat:message.
func offsetOfPacket(t *testing.T, pkt []byte) string {
	t.Helper()
	s := string(pkt)
	end := len(s) - 2 // ...,"<offset>"]
	start := end
	for start > 0 && s[start-1] != '"' {
		start--
	}
	return s[start:end]
}

// risingStore's last seq moves on at every read, as under traffic.
type risingStore struct {
	globalchat.MessageStore
	last int64
}

func (s *risingStore) LastSeq(context.Context) (int64, error) {
	s.last += 3
	return s.last, nil
}

// subscribeSpy records where the chat asked its bus to start.
type subscribeSpy struct {
	*inmem.Bus
	after int64
}

func (b *subscribeSpy) Subscribe(after int64, h func(globalchat.Message)) {
	b.after = after
	b.Bus.Subscribe(after, h)
}

// What the chat counts as delivered at start and where its bus starts are
// one point: a message stored between two reads of the store would be
// neither delivered live nor replayed (replays stop at Delivered).
func TestNewStartsTheBusWhereDeliveredStarts(t *testing.T) {
	io, err := socketio.NewServer(socketio.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bus := &subscribeSpy{Bus: inmem.NewBus(inmem.BusOptions{})}
	defer bus.Close()
	svc, err := New(Config{
		IO: io, Store: &risingStore{}, Bus: bus, Presence: inmem.NewPresence(),
		Limiter: inmem.NewRateLimiter(10, nil), Auth: NewAuthenticator("", nil),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	if svc.Delivered() != bus.after {
		t.Fatalf("delivered starts at %d, the bus after %d", svc.Delivered(), bus.after)
	}
}
