package chat

import (
	"context"
	"slices"
	"testing"

	"github.com/globalchat/globalchat"
)

// The log answers from memory while it reaches back to the client's
// offset, in seq order, late messages included, and stops at upTo.
func TestRecentLogReachesBack(t *testing.T) {
	l := newRecentLog(4)
	for _, m := range []globalchat.Message{{Seq: 1}, {Seq: 2}, {Seq: 4}, {Seq: 3, Late: true}} {
		l.add(m)
	}
	for _, tc := range []struct {
		after, upTo int64
		want        []int64
		ok          bool
	}{
		{1, 4, []int64{2, 3, 4}, true},
		{2, 4, []int64{3, 4}, true}, // 3 came late, after 4
		{2, 3, []int64{3}, true},
		{4, 4, []int64{}, true},
		{0, 4, []int64{1, 2, 3, 4}, true}, // delivered before 1, in order: seqs below 1
	} {
		got, ok := l.since(tc.after, tc.upTo)
		if ok != tc.ok || (ok && !slices.Equal(seqs(got), tc.want)) {
			t.Errorf("since(%d, %d) = %v %v, want %v %v", tc.after, tc.upTo, seqs(got), ok, tc.want, tc.ok)
		}
	}
	l.add(globalchat.Message{Seq: 5}) // 1 leaves the ring
	if _, ok := l.since(0, 5); ok {
		t.Error("since(0) answered after 1 left the ring")
	}
	if got, ok := l.since(1, 5); !ok || !slices.Equal(seqs(got), []int64{2, 3, 4, 5}) {
		t.Errorf("since(1, 5) = %v %v, want 2 3 4 5", seqs(got), ok)
	}
	// A late message is no anchor: delivered after higher seqs, it says
	// nothing of what came before it.
	l = newRecentLog(4)
	for _, m := range []globalchat.Message{{Seq: 7}, {Seq: 5, Late: true}, {Seq: 8}} {
		l.add(m)
	}
	if _, ok := l.since(4, 8); ok {
		t.Error("since(4) answered from a late 5")
	}
	if got, ok := l.since(6, 8); !ok || !slices.Equal(seqs(got), []int64{7, 8}) {
		t.Errorf("since(6, 8) = %v %v, want 7 8", seqs(got), ok)
	}
}

// A replay takes what the instance's memory holds, and goes to the bus
// (then the store) when the memory does not reach back far enough.
func TestReplayerPrefersRecent(t *testing.T) {
	ctx := context.Background()
	stored := []globalchat.Message{{ID: "a", Seq: 1}, {ID: "b", Seq: 2}, {ID: "c", Seq: 3}}
	l := newRecentLog(2)
	l.add(stored[1])
	l.add(stored[2])
	fromMemory := 0
	r := Replayer{Bus: emptyBus{}, Store: &memStore{msgs: stored}, Recent: func(after, upTo int64) ([]globalchat.Message, bool) {
		msgs, ok := l.since(after, upTo)
		if ok {
			fromMemory++
		}
		return msgs, ok
	}}
	room := []string{globalchat.Room}
	if missed, ok, err := r.Replay(ctx, "/", room, "2"); err != nil || !ok || !slices.Equal(offsets(t, missed), []string{"3"}) || fromMemory != 1 {
		t.Fatalf("after 2: %v %v %v (from memory %d), want 3 from memory", offsets(t, missed), ok, err, fromMemory)
	}
	if missed, ok, err := r.Replay(ctx, "/", room, "0"); err != nil || !ok || !slices.Equal(offsets(t, missed), []string{"1", "2", "3"}) || fromMemory != 1 {
		t.Fatalf("after 0: %v %v %v (from memory %d), want 1, 2 and 3 from the store", offsets(t, missed), ok, err, fromMemory)
	}
}

// emptyBus is a bus whose cache holds nothing.
type emptyBus struct{ globalchat.Bus }

func (emptyBus) Since(context.Context, int64, int) ([]globalchat.Message, bool, error) {
	return nil, false, nil
}
