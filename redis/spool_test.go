package redis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/globalchat/globalchat"
	"github.com/globalchat/globalchat/internal/bustest"
	"github.com/globalchat/globalchat/internal/testenv"
	"github.com/globalchat/globalchat/internal/testwait"
)

// memStore is a MessageStore in memory for the spool's tests: it records
// saves, and refuses the ids in conflict as another message's seq.
type memStore struct {
	globalchat.MessageStore
	mu       sync.Mutex
	msgs     map[int64]globalchat.Message
	conflict map[string]bool
	down     bool
}

func newMemStore() *memStore {
	return &memStore{msgs: map[int64]globalchat.Message{}, conflict: map[string]bool{}}
}

func (s *memStore) Save(_ context.Context, msgs ...globalchat.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return globalchat.ErrUnavailable
	}
	for _, m := range msgs {
		if s.conflict[m.ID] {
			return fmt.Errorf("seq %d taken: %w", m.Seq, globalchat.ErrConflict)
		}
	}
	for _, m := range msgs {
		s.msgs[m.Seq] = m
	}
	return nil
}

func (s *memStore) After(_ context.Context, after int64, limit int) ([]globalchat.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []globalchat.Message
	for seq, m := range s.msgs {
		if seq > after {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b globalchat.Message) int { return int(a.Seq - b.Seq) })
	return out[:min(limit, len(out))], nil
}

func (s *memStore) seqs() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int64
	for seq := range s.msgs {
		out = append(out, seq)
	}
	slices.Sort(out)
	return out
}

func spoolSeqs(t *testing.T, b *Bus) []int64 {
	t.Helper()
	msgs, err := b.rangeOf(ctxT(t), keySpool, 0, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []int64
	for _, m := range msgs {
		out = append(out, m.Seq)
	}
	return out
}

// A published message is spooled in the same step, marked so, and leaves
// the spool once released.
func TestPublishSpoolsUntilReleased(t *testing.T) {
	b := newBuses(t, testenv.Redis(t), 1, 100)[0]
	var seqs []int64
	for i := range 3 {
		m, _, err := b.Publish(ctxT(t), globalchat.Message{UserID: "u", Content: fmt.Sprint(i)})
		if err != nil || !m.Spooled {
			t.Fatalf("Publish = %+v, %v; want spooled", m, err)
		}
		seqs = append(seqs, m.Seq)
	}
	if got := spoolSeqs(t, b); !slices.Equal(got, seqs) {
		t.Fatalf("spool %v, want %v", got, seqs)
	}
	b.Release(seqs[0], seqs[2])
	testwait.For(t, "release", func() bool { return slices.Equal(spoolSeqs(t, b), seqs[1:2]) })
}

// The drain stores what waited in the spool longer than drainAfter, in seq
// order, drops it, sets a conflicting message aside, and leaves recent
// messages to their own instance.
func TestDrainStoresTheSpool(t *testing.T) {
	b := newBuses(t, testenv.Redis(t), 1, 100)[0]
	old := time.Now().Add(-time.Minute).UTC()
	var ids []string
	for i := range 5 {
		m, _, err := b.Publish(ctxT(t), globalchat.Message{UserID: "u", Content: fmt.Sprint(i), CreatedAt: old})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	recent, _, _ := b.Publish(ctxT(t), globalchat.Message{UserID: "u", Content: "just now"})
	store := newMemStore()
	store.conflict[ids[3]] = true
	n, err := b.drainOnce(ctxT(t), store)
	if err != nil || n != 5 {
		t.Fatalf("drainOnce = %d, %v", n, err)
	}
	if got := store.seqs(); !slices.Equal(got, []int64{1, 2, 3, 5}) {
		t.Fatalf("stored %v", got)
	}
	if got := spoolSeqs(t, b); !slices.Equal(got, []int64{recent.Seq}) {
		t.Fatalf("spool after the drain %v, want the recent one only", got)
	}
	if n, _ := b.client.ZCard(ctxT(t), keySpoolConflicts).Result(); n != 1 {
		t.Fatalf("%d messages set aside, want 1", n)
	}
	// A store that is down keeps everything spooled.
	b2 := newBuses(t, testenv.Redis(t), 1, 100)[0]
	b2.Publish(ctxT(t), globalchat.Message{UserID: "u", CreatedAt: old})
	down := newMemStore()
	down.down = true
	if _, err := b2.drainOnce(ctxT(t), down); !errors.Is(err, globalchat.ErrUnavailable) {
		t.Fatalf("drain with the store down: %v", err)
	}
	if got := spoolSeqs(t, b2); len(got) != 1 {
		t.Fatalf("spool %v after a failed drain", got)
	}
}

// A full spool refuses new messages, as overloaded, not as Redis away.
func TestFullSpoolRefuses(t *testing.T) {
	srv := testenv.Redis(t)
	b := NewBus(client(t, srv), BusOptions{SpoolMax: 2, Logger: testLogger(t)})
	t.Cleanup(func() { b.Close() })
	for i := range 2 {
		if _, _, err := b.Publish(ctxT(t), globalchat.Message{UserID: "u", Content: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	_, _, err := b.Publish(ctxT(t), globalchat.Message{UserID: "u", Content: "third"})
	if !errors.Is(err, globalchat.ErrUnavailable) || !errors.Is(err, globalchat.ErrOverloaded) {
		t.Fatalf("Publish into a full spool: %v", err)
	}
}

// A publish that Redis runs after its caller gave up (Redis frozen) does
// nothing: the sender was told it failed, and it did.
func TestPublishAfterItsDeadlineDoesNothing(t *testing.T) {
	srv := testenv.Redis(t)
	b := NewBus(client(t, srv), BusOptions{Timeout: 400 * time.Millisecond, Logger: testLogger(t)})
	t.Cleanup(func() { b.Close() })
	rec := &bustest.Recorder{}
	b.Subscribe(-1, rec.Handle)
	other := client(t, srv)
	// CLIENT PAUSE holds every command, as a frozen Redis would, and then
	// runs them.
	if err := other.Do(ctxT(t), "CLIENT", "PAUSE", 1500, "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	_, _, err := b.Publish(ctxT(t), globalchat.Message{UserID: "u", Content: "while frozen"})
	if !errors.Is(err, globalchat.ErrUnavailable) {
		t.Fatalf("Publish to a frozen Redis: %v, want ErrUnavailable", err)
	}
	time.Sleep(1500 * time.Millisecond)
	testwait.For(t, "Redis to run what it held", func() bool {
		n, err := other.Exists(ctxT(t), keySeq).Result()
		return err == nil && n == 0
	})
	if n, _ := other.ZCard(ctxT(t), keySpool).Result(); n != 0 {
		t.Fatal("the late publish was spooled")
	}
	if len(rec.Messages()) != 0 {
		t.Fatalf("the late publish was delivered: %+v", rec.Messages())
	}
}

// A subscriber that comes back after more messages than the cache keeps
// fills the gap from the spool and, once that is drained, from the store:
// every message once, in order.
func TestGapFilledFromTheStore(t *testing.T) {
	srv := testenv.Redis(t)
	store := newMemStore()
	pub := NewBus(client(t, srv), BusOptions{Recent: 5, Logger: testLogger(t)})
	sub := NewBus(client(t, srv), BusOptions{Recent: 5, Fill: store.After, Logger: testLogger(t)})
	t.Cleanup(func() { pub.Close(); sub.Close() })
	rec := &bustest.Recorder{}
	sub.Subscribe(-1, rec.Handle)
	publish := func(from, to int) {
		for i := from; i < to; i++ {
			m, _, err := pub.Publish(ctxT(t), globalchat.Message{UserID: "u", Content: fmt.Sprint(i)})
			if err != nil {
				t.Fatal(err)
			}
			store.Save(ctxT(t), m)
		}
	}
	publish(0, 3)
	rec.WaitN(t, 3, 5*time.Second)
	admin := client(t, srv)
	// Cut the subscriber off, publish more than the cache keeps, drop the
	// spool (as drained), and let it come back.
	sub.sub.sub.cut()
	publish(3, 20)
	admin.Del(ctxT(t), keySpool)
	publish(20, 21)
	got := rec.WaitN(t, 21, 15*time.Second)
	for i, m := range got {
		if m.Seq != int64(i+1) {
			t.Fatalf("delivery %d has seq %d", i, m.Seq)
		}
	}
}

// A subscriber starts after the seq its caller gives, not where the room
// stands when it reaches Redis: a chat primes what it delivered with the
// store's last seq, and a message published between that read and the
// subscriber's start must be delivered, or no replay would send it (an
// instance starting under traffic lost one that way).
func TestSubscribeStartsAfterTheGivenSeq(t *testing.T) {
	srv := testenv.Redis(t)
	store := newMemStore()
	pub := NewBus(client(t, srv), BusOptions{Recent: 5, Logger: testLogger(t)})
	t.Cleanup(func() { pub.Close() })
	for i := range 8 {
		m, _, err := pub.Publish(ctxT(t), globalchat.Message{UserID: "u", Content: fmt.Sprint(i)})
		if err != nil {
			t.Fatal(err)
		}
		store.Save(ctxT(t), m)
	}
	// Seq 2 was the store's last when this instance read it; 3 to 8 came
	// meanwhile, 3 of them before the cache's reach.
	sub := NewBus(client(t, srv), BusOptions{Recent: 5, Fill: store.After, Logger: testLogger(t)})
	t.Cleanup(func() { sub.Close() })
	rec := &bustest.Recorder{}
	sub.Subscribe(2, rec.Handle)
	if _, _, err := pub.Publish(ctxT(t), globalchat.Message{UserID: "u", Content: "live"}); err != nil {
		t.Fatal(err)
	}
	rec.WaitN(t, 7, 5*time.Second)
	if got, want := bustest.Seqs(rec.Messages()), []int64{3, 4, 5, 6, 7, 8, 9}; !slices.Equal(got, want) {
		t.Fatalf("delivered %v, want %v", got, want)
	}
}

// cut closes the subscription's connection, as a network failure does:
// the subscription opens another.
func (s *subscription) cut() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ps != nil {
		s.ps.Close()
	}
}
