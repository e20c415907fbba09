package failover

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/globalchat/globalchat"
	"github.com/globalchat/globalchat/inmem"
	"github.com/globalchat/globalchat/sqlite"
)

// flaky is a primary bus that can be switched off, as a Redis that went away.
type flaky struct {
	globalchat.Bus
	down    atomic.Bool
	ensured atomic.Int64
}

func (f *flaky) Publish(ctx context.Context, m globalchat.Message) (globalchat.Message, bool, error) {
	if f.down.Load() {
		return globalchat.Message{}, false, fmt.Errorf("flaky: %w", globalchat.ErrUnavailable)
	}
	return f.Bus.Publish(ctx, m)
}

func (f *flaky) EnsureSeq(ctx context.Context, seq int64) error {
	if f.down.Load() {
		return globalchat.ErrUnavailable
	}
	f.ensured.Store(seq)
	return f.Bus.EnsureSeq(ctx, seq)
}

func (f *flaky) Ping(context.Context) error {
	if f.down.Load() {
		return globalchat.ErrUnavailable
	}
	return nil
}

// recorder keeps what a handler was given.
type recorder struct {
	mu   sync.Mutex
	msgs []globalchat.Message
}

func (r *recorder) handle(m globalchat.Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
}

func (r *recorder) seqs() []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]int64, len(r.msgs))
	for i, m := range r.msgs {
		out[i] = m.Seq
	}
	return out
}

func (r *recorder) wait(t *testing.T, n int) []int64 {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if s := r.seqs(); len(s) >= n {
			return s
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("got %v, want %d deliveries", r.seqs(), n)
	return nil
}

func openStore(t *testing.T, path string) *sqlite.Store {
	s, err := sqlite.Open(t.Context(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newBus(t *testing.T, primary globalchat.Bus, store globalchat.Sequencer) (*Bus, *recorder, *globalchat.State) {
	state := globalchat.NewState(nil, nil)
	b := New(Options{Primary: primary, Store: store, State: state})
	rec := &recorder{}
	start, err := store.LastSeq(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	b.Subscribe(start, rec.handle)
	t.Cleanup(func() { b.Close() })
	return b, rec, state
}

func msg(id string) globalchat.Message {
	return globalchat.Message{ID: id, UserID: "u", Username: "U", Content: id, CreatedAt: time.Now().UTC().Truncate(time.Millisecond)}
}

// Redis away: the store numbers the message above every seq seen by Gap,
// delivers it, and a retry of it is the same message.
func TestMovesToTheStoreAndBack(t *testing.T) {
	store := openStore(t, filepath.Join(t.TempDir(), "chat.db"))
	primary := &flaky{Bus: inmem.NewBus(inmem.BusOptions{})}
	b, rec, state := newBus(t, primary, store)

	first, _, err := b.Publish(t.Context(), msg("a"))
	if err != nil || first.Seq != 1 {
		t.Fatalf("Publish on Redis = %d, %v", first.Seq, err)
	}
	if err := store.Save(t.Context(), first); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, 1)

	primary.down.Store(true)
	away, dup, err := b.Publish(t.Context(), msg("b"))
	if err != nil || dup || away.Seq != 1+Gap {
		t.Fatalf("Publish with Redis away = seq %d, dup %v, %v; want %d", away.Seq, dup, err, 1+Gap)
	}
	if state.Mode() != globalchat.ModeRedisAway {
		t.Fatalf("mode %v", state.Mode())
	}
	if retry, dup, _ := b.Publish(t.Context(), msg("b")); !dup || retry.Seq != away.Seq {
		t.Fatalf("retry = %d dup %v", retry.Seq, dup)
	}
	if got := rec.wait(t, 2); got[1] != away.Seq {
		t.Fatalf("delivered %v", got)
	}

	primary.down.Store(false)
	deadline := time.Now().Add(5 * time.Second)
	for state.Mode() != globalchat.ModeNormal && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if state.Mode() != globalchat.ModeNormal {
		t.Fatal("not back on Redis")
	}
	// Redis goes on right after the last seq the store handed out.
	if primary.ensured.Load() != away.Seq {
		t.Fatalf("Redis counter raised to %d, want %d", primary.ensured.Load(), away.Seq)
	}
	back, _, err := b.Publish(t.Context(), msg("c"))
	if err != nil || back.Seq != away.Seq+1 {
		t.Fatalf("Publish back on Redis = %d, %v; want %d", back.Seq, err, away.Seq+1)
	}
	got := rec.wait(t, 3)
	if len(got) != 3 {
		t.Fatalf("delivered %v", got)
	}
}

// pair is two instances on one store.
type pair struct {
	p1, p2     *flaky
	b1, b2     *Bus
	rec1, rec2 *recorder
}

// twoAway starts two instances on one SQLite file, their primaries down
// from the start: on one Redis stand-in when shared, else each its own.
func twoAway(t *testing.T, shared bool) pair {
	p1, p2 := &flaky{Bus: inmem.NewBus(inmem.BusOptions{})}, &flaky{}
	p2.Bus = p1.Bus
	if !shared {
		p2.Bus = inmem.NewBus(inmem.BusOptions{})
	}
	path := filepath.Join(t.TempDir(), "chat.db")
	store1, store2 := openStore(t, path), openStore(t, path)
	p1.down.Store(true)
	p2.down.Store(true)
	b1, rec1, _ := newBus(t, p1, store1)
	b2, rec2, _ := newBus(t, p2, store2)
	return pair{p1: p1, p2: p2, b1: b1, b2: b2, rec1: rec1, rec2: rec2}
}

// Two instances away on one store: one order, each message to both once.
func TestInstancesAwayShareTheStoresOrder(t *testing.T) {
	c := twoAway(t, false)
	b1, b2, rec1, rec2 := c.b1, c.b2, c.rec1, c.rec2
	const each = 20
	var wg sync.WaitGroup
	for i := range each {
		wg.Go(func() {
			if _, _, err := b1.Publish(t.Context(), msg(fmt.Sprint("one-", i))); err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() {
			if _, _, err := b2.Publish(t.Context(), msg(fmt.Sprint("two-", i))); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	s1, s2 := rec1.wait(t, 2*each), rec2.wait(t, 2*each)
	if fmt.Sprint(s1) != fmt.Sprint(s2) {
		t.Fatalf("orders differ:\n%v\n%v", s1, s2)
	}
	for i := 1; i < len(s1); i++ {
		if s1[i] <= s1[i-1] {
			t.Fatalf("not in seq order: %v", s1)
		}
	}
}

// A seq delivered by two sources goes out once; one below the highest
// goes out marked late (without a recovery offset).
func TestDelivererOnceAndMarksLate(t *testing.T) {
	rec := &recorder{}
	d := newDeliverer(rec.handle)
	for _, seq := range []int64{1, 2, 2, 5, 3, 5, 6} {
		d.deliver(globalchat.Message{Seq: seq})
	}
	var seqs []int64
	var late []bool
	for _, m := range rec.msgs {
		seqs = append(seqs, m.Seq)
		late = append(late, m.Late)
	}
	if fmt.Sprint(seqs) != "[1 2 5 3 6]" || fmt.Sprint(late) != "[false false false true false]" || d.lastSeq() != 6 {
		t.Fatalf("seqs %v late %v last %d", seqs, late, d.lastSeq())
	}
}

// An instance still on the store when another moved the cluster back
// finds its epoch ended: its message goes to Redis instead, and no append
// lands among the seqs Redis now hands out.
func TestAnAppendAfterTheReturnGoesToRedis(t *testing.T) {
	c := twoAway(t, true)
	p1, p2, b1, b2 := c.p1, c.p2, c.b1, c.b2
	if _, _, err := b1.Publish(t.Context(), msg("one-away")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b2.Publish(t.Context(), msg("two-away")); err != nil {
		t.Fatal(err)
	}
	p1.down.Store(false)
	if !b1.tryReturn() {
		t.Fatal("b1 did not move back")
	}
	onRedis, _, err := b1.Publish(t.Context(), msg("one-back"))
	if err != nil {
		t.Fatal(err)
	}
	// b2 still thinks Redis is away, but its Redis answers now.
	p2.down.Store(false)
	late, _, err := b2.append(t.Context(), msg("two-late"))
	if err != nil {
		t.Fatal(err)
	}
	if late.Seq != onRedis.Seq+1 || b2.away.Load() {
		t.Fatalf("b2's message has seq %d (away %v); want %d, numbered by Redis", late.Seq, b2.away.Load(), onRedis.Seq+1)
	}
}

// An instance moving back delivers what the others appended since its
// poller's last read: its Redis subscriber may start after it.
func TestTheReturnDeliversTheLastAppends(t *testing.T) {
	c := twoAway(t, true)
	p1, b1, b2, rec1 := c.p1, c.b1, c.b2, c.rec1
	last, _, err := b2.Publish(t.Context(), msg("appended-just-before-the-return"))
	if err != nil {
		t.Fatal(err)
	}
	p1.down.Store(false)
	if !b1.tryReturn() { // at once: b1's poller has not read it yet
		t.Fatal("b1 did not move back")
	}
	if got := rec1.seqs(); len(got) != 1 || got[0] != last.Seq {
		t.Fatalf("b1 delivered %v right after its return, want [%d]", got, last.Seq)
	}
}
