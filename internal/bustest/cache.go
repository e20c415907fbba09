package bustest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/globalchat/globalchat"
	"github.com/globalchat/globalchat/internal/testwait"
)

func testDedupe(t *testing.T, newBus Factory) {
	buses := newBus(t, 100)
	recs := subscribeAll(buses)
	ctx := ctxT(t)
	m := msg("u1", "hello")
	m.ClientMsgID = "c1"
	first := publish(t, buses[0], m)
	if first.ClientMsgID != "c1" {
		t.Fatalf("clientMsgId %q, want c1", first.ClientMsgID)
	}
	for _, b := range buses {
		again := m
		again.Content = "hello again"
		got, dup, err := b.Publish(ctx, again)
		if err != nil || !dup {
			t.Fatalf("second Publish: dup=%v err=%v, want duplicate", dup, err)
		}
		if got.ID != first.ID || got.Seq != first.Seq || got.Content != "hello" {
			t.Fatalf("duplicate returned %+v, want the first %+v", got, first)
		}
	}
	other := m
	other.UserID = "u2"
	if got := publish(t, buses[len(buses)-1], other); got.Seq != 2 {
		t.Fatalf("another user's same clientMsgId: seq %d, want 2", got.Seq)
	}
	third := m
	third.ClientMsgID = ""
	last := publish(t, buses[0], third)
	for i, r := range recs {
		// Deliveries come in seq order: a duplicate published would come
		// before the last message.
		testwait.For(t, "the last message", func() bool {
			got := r.Messages()
			return len(got) > 0 && got[len(got)-1].ID == last.ID
		})
		got := r.Messages()
		if len(got) != 3 {
			t.Fatalf("subscriber %d received %d messages, want 3", i, len(got))
		}
		checkRun(t, "deliveries", got, 1)
	}
}

func testConcurrentDedupe(t *testing.T, newBus Factory) {
	buses := newBus(t, 100)
	recs := subscribeAll(buses)
	var fresh atomic.Int32
	var seqs sync.Map
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Go(func() {
			m := msg("u1", fmt.Sprint("try ", i))
			m.ClientMsgID = "same"
			got, dup, err := buses[i%len(buses)].Publish(ctxT(t), m)
			if err != nil {
				t.Errorf("Publish: %v", err)
				return
			}
			if !dup {
				fresh.Add(1)
			}
			seqs.Store(got.Seq, true)
		})
	}
	wg.Wait()
	n := 0
	seqs.Range(func(any, any) bool { n++; return true })
	if fresh.Load() != 1 || n != 1 {
		t.Fatalf("%d publishes were new with %d seqs, want exactly one", fresh.Load(), n)
	}
	for _, r := range recs {
		r.WaitN(t, 1, 10*time.Second)
	}
	time.Sleep(20 * time.Millisecond)
	for i, r := range recs {
		if got := len(r.Messages()); got != 1 {
			t.Fatalf("subscriber %d received %d messages, want 1", i, got)
		}
	}
}

func publishN(t testing.TB, buses []globalchat.Bus, n int) {
	t.Helper()
	for i := range n {
		publish(t, buses[i%len(buses)], msg("u1", fmt.Sprint("m", i+1)))
	}
}

// Seqs returns the seqs of msgs, in their order.
func Seqs(msgs []globalchat.Message) []int64 {
	out := make([]int64, len(msgs))
	for i, m := range msgs {
		out[i] = m.Seq
	}
	return out
}

func wantSeqs(t testing.TB, what string, msgs []globalchat.Message, from, to int64) {
	t.Helper()
	if int64(len(msgs)) != max(0, to-from+1) {
		t.Fatalf("%s: got seqs %v, want %d..%d", what, Seqs(msgs), from, to)
	}
	checkRun(t, what, msgs, from)
}

func testRecent(t *testing.T, newBus Factory) {
	buses := newBus(t, 100)
	publishN(t, buses, 25)
	ctx := ctxT(t)
	for _, b := range buses {
		pages := []struct {
			before   int64
			from, to int64
		}{{0, 16, 25}, {16, 6, 15}, {6, 1, 5}, {1, 1, 0}, {100, 16, 25}}
		for _, p := range pages {
			got, err := b.Recent(ctx, p.before, 10)
			if err != nil {
				t.Fatalf("Recent(%d): %v", p.before, err)
			}
			wantSeqs(t, fmt.Sprint("Recent(", p.before, ", 10)"), got, p.from, p.to)
		}
		got, err := b.Recent(ctx, 0, 0)
		if err != nil || len(got) != 0 {
			t.Fatalf("Recent(0, 0) = %v, %v; want nothing", Seqs(got), err)
		}
		if got, err := b.Recent(ctx, 0, 1000); err != nil {
			t.Fatal(err)
		} else {
			wantSeqs(t, "Recent(0, 1000)", got, 1, 25)
			if got[24].Content != "m25" {
				t.Fatalf("message 25 content %q", got[24].Content)
			}
		}
	}
}

func testSince(t *testing.T, newBus Factory) {
	buses := newBus(t, 100)
	ctx := ctxT(t)
	if got, complete, err := buses[0].Since(ctx, 0, 10); err != nil || len(got) != 0 || !complete {
		t.Fatalf("Since(0) on empty bus = %v, %v, %v; want nothing, complete", Seqs(got), complete, err)
	}
	publishN(t, buses, 25)
	for _, b := range buses {
		pages := []struct {
			after    int64
			from, to int64
		}{{0, 1, 10}, {10, 11, 20}, {20, 21, 25}, {25, 26, 25}}
		for _, p := range pages {
			got, complete, err := b.Since(ctx, p.after, 10)
			if err != nil {
				t.Fatalf("Since(%d): %v", p.after, err)
			}
			if !complete {
				t.Fatalf("Since(%d): incomplete, want complete", p.after)
			}
			wantSeqs(t, fmt.Sprint("Since(", p.after, ", 10)"), got, p.from, p.to)
		}
		if _, complete, err := b.Since(ctx, 40, 10); err != nil || complete {
			t.Fatalf("Since(40) beyond the last seq: complete=%v err=%v, want incomplete", complete, err)
		}
	}
}

func testTrimmed(t *testing.T, newBus Factory) {
	buses := newBus(t, 10)
	publishN(t, buses, 25)
	ctx := ctxT(t)
	for _, b := range buses {
		got, err := b.Recent(ctx, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		wantSeqs(t, "Recent after trim", got, 16, 25)
		if got, err = b.Recent(ctx, 16, 100); err != nil || len(got) != 0 {
			t.Fatalf("Recent(16) after trim = %v, %v; want nothing", Seqs(got), err)
		}
		got, complete, err := b.Since(ctx, 5, 100)
		if err != nil || complete {
			t.Fatalf("Since(5) after trim: complete=%v err=%v, want incomplete", complete, err)
		}
		wantSeqs(t, "Since(5) after trim", got, 16, 25)
		got, complete, err = b.Since(ctx, 15, 100)
		if err != nil || !complete {
			t.Fatalf("Since(15) after trim: complete=%v err=%v, want complete", complete, err)
		}
		wantSeqs(t, "Since(15) after trim", got, 16, 25)
	}
}

func testEnsureSeq(t *testing.T, newBus Factory) {
	buses := newBus(t, 100)
	recs := subscribeAll(buses)
	ctx := ctxT(t)
	publishN(t, buses, 3)
	if err := buses[0].EnsureSeq(ctx, 1000); err != nil {
		t.Fatalf("EnsureSeq(1000): %v", err)
	}
	if got := publish(t, buses[len(buses)-1], msg("u1", "after")); got.Seq != 1001 {
		t.Fatalf("seq after EnsureSeq(1000) = %d, want 1001", got.Seq)
	}
	if err := buses[0].EnsureSeq(ctx, 10); err != nil {
		t.Fatalf("EnsureSeq(10): %v", err)
	}
	if got := publish(t, buses[0], msg("u1", "lower")); got.Seq != 1002 {
		t.Fatalf("EnsureSeq lowered the seq: got %d, want 1002", got.Seq)
	}
	// The store holds 4..1000, not the cache: resuming from 3 is incomplete.
	if got, complete, err := buses[0].Since(ctx, 3, 10); err != nil || complete {
		t.Fatalf("Since(3) across the jump: %v complete=%v err=%v, want incomplete", Seqs(got), complete, err)
	}
	if got, complete, err := buses[0].Since(ctx, 1000, 10); err != nil || !complete {
		t.Fatalf("Since(1000): complete=%v err=%v, want complete", complete, err)
	} else {
		wantSeqs(t, "Since(1000)", got, 1001, 1002)
	}
	for i, r := range recs {
		got := r.WaitN(t, 5, 10*time.Second)
		if s := Seqs(got); fmt.Sprint(s) != "[1 2 3 1001 1002]" {
			t.Fatalf("subscriber %d received %v", i, s)
		}
	}
}

func testHandlerPublishes(t *testing.T, newBus Factory) {
	buses := newBus(t, 100)
	ctx := ctxT(t)
	recs := make([]*Recorder, len(buses))
	for i, b := range buses {
		recs[i] = &Recorder{}
		b.Subscribe(-1, func(m globalchat.Message) {
			recs[i].Handle(m)
			if i == 0 && m.Content == "ping" {
				// Publishing from the handler must neither deadlock
				// nor be refused.
				if _, _, err := b.Publish(ctx, msg("bot", "pong")); err != nil {
					t.Errorf("Publish from handler: %v", err)
				}
			}
		})
	}
	publish(t, buses[len(buses)-1], msg("u1", "ping"))
	for _, r := range recs {
		got := r.WaitN(t, 2, 10*time.Second)
		if got[0].Content != "ping" || got[1].Content != "pong" {
			t.Fatalf("received %q, %q; want ping, pong", got[0].Content, got[1].Content)
		}
	}
}
