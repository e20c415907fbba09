package inmem

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/globalchat/globalchat"
)

var _ globalchat.Bus = (*Bus)(nil)

// errClosed is returned by a closed Bus.
var errClosed = errors.New("inmem: bus closed")

// BusOptions configures a Bus. Zero values take the defaults.
type BusOptions struct {
	Capacity  int              // recent messages kept; default 1000
	DedupeTTL time.Duration    // how long a client message id is remembered; default 1h
	DedupeMax int              // client message ids remembered at most; default 100000
	Clock     func() time.Time // default time.Now
	Logger    *slog.Logger     // default discards
}

// deliverBatch is how many messages the delivery goroutine copies out of
// the ring at once: the mutex is held for the copy only.
const deliverBatch = 256

// Bus is the message bus of a single instance: it numbers messages, keeps
// the recent ones and hands them to the handler in Seq order.
//
// Delivery: Publish never calls the handler. It appends the message to the
// ring under the mutex and wakes one delivery goroutine, which copies what
// is new out of the ring under the mutex and calls the handler without it,
// in Seq order, one call at a time. So a handler may call Publish (or any
// other method) without deadlock, and a slow handler never blocks Publish.
// The ring is the bounded queue: a handler that falls more than Capacity
// messages behind loses the oldest ones (logged), which history and
// recovery fetch from the store.
type Bus struct {
	clock func() time.Time
	log   *slog.Logger
	wake  chan struct{} // capacity 1: "there may be something to deliver"
	done  chan struct{}

	mu      sync.Mutex
	seq     int64
	ring    *ring
	dedupe  *dedupe
	handler func(globalchat.Message)
	taken   int64 // highest Seq copied out for the handler
	dropped int64 // messages evicted before the handler saw them
	closed  bool
}

// NewBus returns an in-memory Bus.
func NewBus(opts BusOptions) *Bus {
	if opts.Capacity <= 0 {
		opts.Capacity = 1000
	}
	if opts.DedupeTTL <= 0 {
		opts.DedupeTTL = time.Hour
	}
	if opts.DedupeMax <= 0 {
		opts.DedupeMax = 100000
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Bus{
		clock:  opts.Clock,
		log:    opts.Logger,
		wake:   make(chan struct{}, 1),
		done:   make(chan struct{}),
		ring:   newRing(opts.Capacity),
		dedupe: newDedupe(opts.DedupeTTL, opts.DedupeMax),
	}
}

// Publish implements globalchat.Bus. It assigns an ID when msg has none
// and CreatedAt when it is zero.
func (b *Bus) Publish(ctx context.Context, msg globalchat.Message) (globalchat.Message, bool, error) {
	if err := ctx.Err(); err != nil {
		return globalchat.Message{}, false, err
	}
	now := b.clock()
	if msg.ID == "" {
		msg.ID = uuid.NewString()
	}
	if msg.CreatedAt.IsZero() {
		msg.CreatedAt = now
	}
	key := dedupeKey{msg.UserID, msg.ClientMsgID}

	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return globalchat.Message{}, false, errClosed
	}
	if msg.ClientMsgID != "" {
		if first, ok := b.dedupe.get(key, now); ok {
			return first, true, nil
		}
	}
	b.seq++
	msg.Seq = b.seq
	if old, ok := b.ring.push(msg); ok && b.handler != nil && old.Seq > b.taken {
		b.dropped++
	}
	if msg.ClientMsgID != "" {
		b.dedupe.put(key, msg, now)
	}
	if b.handler != nil {
		select {
		case b.wake <- struct{}{}:
		default: // already woken
		}
	}
	return msg, false, nil
}

// Subscribe implements globalchat.Bus. Messages published from now on are
// delivered; a second call replaces the handler. after is not needed: in
// one process nothing is published before the chat subscribes, and the
// bus's seq continues the store's (EnsureSeq).
func (b *Bus) Subscribe(_ int64, handler func(globalchat.Message)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || handler == nil {
		return
	}
	first := b.handler == nil
	b.handler = handler
	if first {
		b.taken = b.seq
		go b.deliverLoop()
	}
}

func (b *Bus) deliverLoop() {
	for {
		select {
		case <-b.done:
			return
		case <-b.wake:
		}
		for {
			msgs, handler, dropped := b.take()
			if dropped > 0 {
				b.log.Warn("inmem bus: handler fell behind, messages not delivered", "dropped", dropped)
			}
			if len(msgs) == 0 {
				break
			}
			for _, m := range msgs {
				select {
				case <-b.done:
					return
				default:
				}
				handler(m)
			}
		}
	}
}

// take copies out the next batch of messages for the handler.
func (b *Bus) take() ([]globalchat.Message, func(globalchat.Message), int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	dropped := b.dropped
	b.dropped = 0
	from := b.ring.firstAfter(b.taken)
	to := min(b.ring.n, from+deliverBatch)
	msgs := b.ring.slice(from, to)
	if len(msgs) > 0 {
		b.taken = msgs[len(msgs)-1].Seq
	}
	return msgs, b.handler, dropped
}

// Recent implements globalchat.Bus.
func (b *Bus) Recent(ctx context.Context, before int64, limit int) ([]globalchat.Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	to := b.ring.n
	if before > 0 {
		to = b.ring.firstFrom(before)
	}
	return b.ring.slice(max(0, to-limit), to), nil
}

// Since implements globalchat.Bus. The answer is complete when the first
// message returned follows after directly, or when nothing follows after.
func (b *Bus) Since(ctx context.Context, after int64, limit int) ([]globalchat.Message, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	from := b.ring.firstAfter(after)
	if from == b.ring.n {
		return nil, after <= b.seq && after >= 0, nil
	}
	complete := b.ring.at(from).Seq == after+1
	if limit <= 0 {
		return nil, complete, nil
	}
	return b.ring.slice(from, min(b.ring.n, from+limit)), complete, nil
}

// EnsureSeq implements globalchat.Bus.
func (b *Bus) EnsureSeq(ctx context.Context, seq int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seq = max(b.seq, seq)
	return nil
}

// Close implements globalchat.Bus: delivery stops before the next
// message. It does not wait for a handler call in progress, so the handler
// itself may close the bus.
func (b *Bus) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.closed = true
		close(b.done)
	}
	return nil
}
