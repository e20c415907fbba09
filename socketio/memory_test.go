package socketio

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

var _ SessionStore = (*memorySessions)(nil)
var _ Replayer = (*memoryLog)(nil)

func TestMemorySessions(t *testing.T) {
	ctx := context.Background()
	m := newMemorySessions()
	now := time.Now()
	m.now = func() time.Time { return now }
	st := SessionState{PID: "p1", SID: "s1", Namespace: "/", Rooms: []string{"a", "b"}, Lost: time.Now()}
	if err := m.Save(ctx, st, time.Hour); err != nil {
		t.Fatal(err)
	}
	got, err := m.Take(ctx, "p1")
	if err != nil || got.SID != "s1" || !slices.Equal(got.Rooms, st.Rooms) || got.Namespace != "/" {
		t.Fatalf("Take = %+v, %v", got, err)
	}
	// Taken once only.
	if _, err := m.Take(ctx, "p1"); !errors.Is(err, ErrSessionNotFound) {
		t.Fatalf("second Take: %v", err)
	}
	if _, err := m.Take(ctx, "never"); !errors.Is(err, ErrSessionNotFound) {
		t.Fatalf("unknown pid: %v", err)
	}

	// Expired sessions are not returned, and are swept by later saves.
	m.Save(ctx, SessionState{PID: "old"}, time.Millisecond)
	now = now.Add(5 * time.Millisecond)
	if _, err := m.Take(ctx, "old"); !errors.Is(err, ErrSessionNotFound) {
		t.Fatalf("expired session: %v", err)
	}
	m.Save(ctx, SessionState{PID: "old2"}, time.Millisecond)
	now = now.Add(5 * time.Millisecond)
	m.Save(ctx, SessionState{PID: "new"}, time.Millisecond)
	m.mu.Lock()
	_, kept := m.sessions["old2"]
	m.mu.Unlock()
	if kept {
		t.Fatal("expired session not swept")
	}
}

// bc is a broadcast of the event name to rooms, minus except.
func bc(nsp, name string, rooms, except []string) Broadcast {
	return Broadcast{Namespace: nsp, Rooms: rooms, Except: except, Packet: []byte(`2["` + name + `"]`)}
}

func names(bs []Broadcast) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = string(b.Packet[3 : len(b.Packet)-2])
	}
	return out
}

func TestMemoryLogReplay(t *testing.T) {
	ctx := context.Background()
	l := newMemoryLog(time.Hour, 100)
	l.append("o1", bc("/", "one", nil, nil))
	l.append("o2", bc("/", "all", nil, nil))
	l.append("o3", bc("/", "room-r", []string{"r"}, nil))
	l.append("o4", bc("/", "room-s", []string{"s"}, nil))
	l.append("o5", bc("/", "r-but-me", []string{"r"}, []string{"me"}))
	l.append("o6", bc("/chat", "other-nsp", nil, nil))
	l.append("o7", bc("/", "r-or-s", []string{"s", "r"}, nil))
	l.append("o8", bc("/", "all-but-r", nil, []string{"r"}))

	for _, tc := range []struct {
		rooms  []string
		offset string
		want   []string
	}{
		{[]string{"me"}, "o1", []string{"all", "all-but-r"}},
		{[]string{"me", "r"}, "o1", []string{"all", "room-r", "r-or-s"}},
		{[]string{"x", "r"}, "o1", []string{"all", "room-r", "r-but-me", "r-or-s"}},
		{[]string{"x", "s"}, "o3", []string{"room-s", "r-or-s", "all-but-r"}},
		{[]string{"x"}, "o8", nil},
	} {
		got, ok, err := l.Replay(ctx, "/", tc.rooms, tc.offset)
		if err != nil || !ok || !slices.Equal(names(got), tc.want) {
			t.Errorf("Replay(%v after %s) = %v %v %v, want %v", tc.rooms, tc.offset, names(got), ok, err, tc.want)
		}
	}
	if got, ok, _ := l.Replay(ctx, "/chat", []string{"x"}, "o1"); !ok || !slices.Equal(names(got), []string{"other-nsp"}) {
		t.Errorf("other namespace: %v %v", names(got), ok)
	}
	if got, ok, err := l.Replay(ctx, "/", []string{"x"}, "unknown"); ok || err != nil || got != nil {
		t.Errorf("unknown offset: %v %v %v, want not ok", got, ok, err)
	}
}

func TestMemoryLogBounds(t *testing.T) {
	ctx := context.Background()
	l := newMemoryLog(time.Hour, 3)
	for _, o := range []string{"o1", "o2", "o3", "o4"} {
		l.append(o, bc("/", o, nil, nil))
	}
	if _, ok, _ := l.Replay(ctx, "/", nil, "o1"); ok {
		t.Error("offset beyond the count bound still known")
	}
	if got, ok, _ := l.Replay(ctx, "/", nil, "o2"); !ok || !slices.Equal(names(got), []string{"o3", "o4"}) {
		t.Errorf("after o2: %v %v", names(got), ok)
	}

	l = newMemoryLog(10*time.Millisecond, 100)
	now := time.Now()
	l.now = func() time.Time { return now }
	l.append("old", bc("/", "old", nil, nil))
	now = now.Add(20 * time.Millisecond)
	l.append("new", bc("/", "new", nil, nil))
	if _, ok, _ := l.Replay(ctx, "/", nil, "old"); ok {
		t.Error("offset beyond the age bound still known")
	}
}

func TestOffsetOf(t *testing.T) {
	for pkt, want := range map[string]string{
		`2["msg",{"a":1},"off-1"]`:  "off-1",
		`2/chat,["msg","x","o\"2"]`: `o"2`,
		`2["msg","only-arg"]`:       "only-arg",
		`2["msg"]`:                  "",
		`2["msg",1]`:                "",
		`51-["m",{"_placeholder":true,"num":0},"o3"]`: "o3",
		`garbage`: "",
	} {
		if got := offsetOf([]byte(pkt)); got != want {
			t.Errorf("offsetOf(%s) = %q, want %q", pkt, got, want)
		}
	}
}
