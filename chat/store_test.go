package chat

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/globalchat/globalchat"
)

// failingStore answers Save with err, and Ping with pingErr.
type failingStore struct {
	globalchat.MessageStore
	err, pingErr error
	saves        atomic.Int64
}

func (s *failingStore) Save(context.Context, ...globalchat.Message) error {
	s.saves.Add(1)
	return s.err
}

func (s *failingStore) Ping(context.Context) error { return s.pingErr }

// releasingBus records what the chat releases from its spool.
type releasingBus struct {
	globalchat.Bus
	released []int64
}

func (b *releasingBus) Release(seqs ...int64) { b.released = append(b.released, seqs...) }

func storeService(store globalchat.MessageStore, bus globalchat.Bus) *Service {
	return &Service{
		cfg:     Config{Store: store, Bus: bus, State: globalchat.NewState(nil, nil)},
		log:     slog.New(slog.DiscardHandler),
		metrics: newMetrics(nil),
		health:  newHealth(slog.New(slog.DiscardHandler)),
	}
}

// A spooled message whose store is down is acknowledged (the spool holds
// it) and marks the store away, so the next ones do not wait for it; a
// message the store alone holds is refused.
func TestSpooledMessagesOutliveTheStore(t *testing.T) {
	store := &failingStore{err: globalchat.ErrUnavailable, pingErr: globalchat.ErrUnavailable}
	bus := &releasingBus{}
	s := storeService(store, bus)
	ctx := context.Background()

	if err := s.store(ctx, globalchat.Message{Seq: 1}); !errors.Is(err, globalchat.ErrUnavailable) {
		t.Fatalf("an unspooled message with the store down: %v, want unavailable", err)
	}
	if err := s.store(ctx, globalchat.Message{Seq: 2, Spooled: true}); err != nil {
		t.Fatalf("a spooled message with the store down: %v, want acknowledged", err)
	}
	if s.cfg.State.Mode() != globalchat.ModeStoreAway {
		t.Fatalf("mode %v, want store away", s.cfg.State.Mode())
	}
	before := store.saves.Load()
	if err := s.store(ctx, globalchat.Message{Seq: 3, Spooled: true}); err != nil {
		t.Fatal(err)
	}
	if store.saves.Load() != before {
		t.Fatal("the store marked away was asked again: each message would wait for it")
	}
	if len(bus.released) != 0 {
		t.Fatalf("released %v from the spool without a commit", bus.released)
	}

	// Back: the watcher sees the store answer; a commit releases the spool.
	store.err, store.pingErr = nil, nil
	stop := s.watchStore()
	defer stop()
	deadline := time.Now().Add(5 * time.Second)
	for s.cfg.State.StoreAway() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if s.cfg.State.StoreAway() {
		t.Fatal("store still marked away after it answered")
	}
	if err := s.store(ctx, globalchat.Message{Seq: 4, Spooled: true}); err != nil || len(bus.released) != 1 || bus.released[0] != 4 {
		t.Fatalf("commit: %v, released %v", err, bus.released)
	}
}

// A conflict is never acknowledged, spooled or not.
func TestConflictIsNotAcknowledged(t *testing.T) {
	s := storeService(&failingStore{err: globalchat.ErrConflict}, &releasingBus{})
	for _, spooled := range []bool{false, true} {
		if err := s.store(context.Background(), globalchat.Message{Seq: 1, Spooled: spooled}); !errors.Is(err, globalchat.ErrConflict) {
			t.Fatalf("spooled %v: %v, want the conflict", spooled, err)
		}
	}
	if s.cfg.State.StoreAway() {
		t.Fatal("a conflict marked the store away")
	}
}
