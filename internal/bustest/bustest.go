// Package bustest is the test suite every globalchat.Bus implementation
// passes: the in-memory bus and the Redis bus run the same tests.
package bustest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/globalchat/globalchat"
)

// Factory returns fresh buses that share one room (one bus for a single
// instance; several, as several instances would hold, for a shared
// backend), each keeping at most recent messages. The suite subscribes
// them; the factory closes them when the test ends.
type Factory func(t testing.TB, recent int) []globalchat.Bus

// Run runs the suite.
func Run(t *testing.T, newBus Factory) {
	t.Run("SeqStrictlyIncreasing", func(t *testing.T) { testSeq(t, newBus) })
	t.Run("ConcurrentDeliveryInOrder", func(t *testing.T) { testConcurrent(t, newBus) })
	t.Run("Dedupe", func(t *testing.T) { testDedupe(t, newBus) })
	t.Run("ConcurrentDedupe", func(t *testing.T) { testConcurrentDedupe(t, newBus) })
	t.Run("RecentPaging", func(t *testing.T) { testRecent(t, newBus) })
	t.Run("SincePaging", func(t *testing.T) { testSince(t, newBus) })
	t.Run("CacheTrimmed", func(t *testing.T) { testTrimmed(t, newBus) })
	t.Run("EnsureSeq", func(t *testing.T) { testEnsureSeq(t, newBus) })
	t.Run("HandlerMayPublish", func(t *testing.T) { testHandlerPublishes(t, newBus) })
}

// Recorder is a handler that keeps what it is given.
type Recorder struct {
	mu   sync.Mutex
	msgs []globalchat.Message
}

// Handle records m.
func (r *Recorder) Handle(m globalchat.Message) {
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.mu.Unlock()
}

// Messages returns a copy of what was recorded.
func (r *Recorder) Messages() []globalchat.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]globalchat.Message(nil), r.msgs...)
}

// WaitN waits until n messages are recorded, failing the test after d.
func (r *Recorder) WaitN(t testing.TB, n int, d time.Duration) []globalchat.Message {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		msgs := r.Messages()
		if len(msgs) >= n {
			return msgs
		}
		if time.Now().After(deadline) {
			t.Fatalf("received %d messages, want %d", len(msgs), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func subscribeAll(buses []globalchat.Bus) []*Recorder {
	recs := make([]*Recorder, len(buses))
	for i, b := range buses {
		recs[i] = &Recorder{}
		b.Subscribe(-1, recs[i].Handle)
	}
	return recs
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func msg(user, content string) globalchat.Message {
	return globalchat.Message{UserID: user, Username: "name-" + user, Content: content, CreatedAt: time.Now().UTC()}
}

func publish(t testing.TB, b globalchat.Bus, m globalchat.Message) globalchat.Message {
	t.Helper()
	got, dup, err := b.Publish(ctxT(t), m)
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if dup {
		t.Fatalf("Publish(%q): duplicate, want new", m.Content)
	}
	return got
}

// checkRun fails unless msgs have the seqs from, from+1, ... in order.
func checkRun(t testing.TB, what string, msgs []globalchat.Message, from int64) {
	t.Helper()
	for i, m := range msgs {
		if want := from + int64(i); m.Seq != want {
			t.Fatalf("%s: message %d has seq %d, want %d", what, i, m.Seq, want)
		}
	}
}

func testSeq(t *testing.T, newBus Factory) {
	buses := newBus(t, 100)
	recs := subscribeAll(buses)
	for i := range 20 {
		b := buses[i%len(buses)]
		m := msg("u1", fmt.Sprint("m", i))
		got := publish(t, b, m)
		if got.Seq != int64(i+1) {
			t.Fatalf("message %d: seq %d, want %d", i, got.Seq, i+1)
		}
		if got.ID == "" || got.Content != m.Content || got.UserID != "u1" || got.Username != m.Username {
			t.Fatalf("stored message %+v does not match %+v", got, m)
		}
		if !got.CreatedAt.Equal(m.CreatedAt) {
			t.Fatalf("createdAt %v, want %v", got.CreatedAt, m.CreatedAt)
		}
	}
	for i, r := range recs {
		checkRun(t, fmt.Sprint("subscriber ", i), r.WaitN(t, 20, 10*time.Second), 1)
	}
}

func testConcurrent(t *testing.T, newBus Factory) {
	buses := newBus(t, 2000)
	recs := subscribeAll(buses)
	const per = 200
	total := per * len(buses)
	seqs := make(chan int64, total)
	var wg sync.WaitGroup
	for bi, b := range buses {
		for i := range per {
			wg.Go(func() {
				got, _, err := b.Publish(ctxT(t), msg(fmt.Sprint("u", bi), fmt.Sprint(bi, "-", i)))
				if err != nil {
					t.Errorf("Publish: %v", err)
				}
				seqs <- got.Seq
			})
		}
	}
	wg.Wait()
	close(seqs)
	seen := make(map[int64]bool)
	for s := range seqs {
		if seen[s] || s < 1 || s > int64(total) {
			t.Fatalf("seq %d assigned twice or out of 1..%d", s, total)
		}
		seen[s] = true
	}
	var first []globalchat.Message
	for i, r := range recs {
		got := r.WaitN(t, total, 20*time.Second)
		checkRun(t, fmt.Sprint("subscriber ", i), got, 1)
		if first == nil {
			first = got
			continue
		}
		for j := range got {
			if got[j].ID != first[j].ID {
				t.Fatalf("subscriber %d message %d is %s, subscriber 0 has %s", i, j, got[j].ID, first[j].ID)
			}
		}
	}
	time.Sleep(50 * time.Millisecond) // any extra delivery would show now
	for i, r := range recs {
		if n := len(r.Messages()); n != total {
			t.Fatalf("subscriber %d received %d messages, want exactly %d", i, n, total)
		}
	}
}
