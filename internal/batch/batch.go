// Package batch commits items in groups (group commit): callers hand in one
// item each and wait, while a single background goroutine drains whatever
// is pending and commits it in one call. Under load many callers share one
// database round trip; without load an item is committed at once, since
// the committer never waits for a batch to fill.
//
// It knows nothing of databases and must not import any package of this
// module.
package batch

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
)

// Default limits, used when Options leaves them at zero.
const (
	DefaultMaxBatch = 256
	DefaultMaxQueue = 10000
)

var (
	// ErrFull is returned by Do when MaxQueue items are already waiting
	// and no room is made before the caller's context ends: the committer
	// cannot keep up, and queueing more would only grow memory and
	// latency.
	ErrFull = errors.New("batch: queue is full")
	// ErrClosed is returned by Do after Close.
	ErrClosed = errors.New("batch: closed")
)

// Options bounds a Batcher.
type Options struct {
	// MaxBatch is the most items passed to one commit call (default 256).
	MaxBatch int
	// MaxQueue is the most items waiting for a commit (default 10000);
	// beyond it Do waits for room, in no particular order, until its
	// context ends (then ErrFull): a burst, such as every connection of
	// an instance closing at once, is absorbed, a lasting overload is not.
	MaxQueue int
}

// CommitFunc commits items at once. The same error is returned to every
// caller whose item was in items. items is only valid during the call.
//
// ctx is cancelled once every caller in the batch has given up, so a
// commit nobody waits for can be abandoned; it carries no deadline, so
// the function should set its own timeout.
type CommitFunc[T any] func(ctx context.Context, items []T) error

// Batcher groups concurrent Do calls into commits. Its zero value is not
// usable: create it with New, and Close it when done.
type Batcher[T any] struct {
	commit   CommitFunc[T]
	maxBatch int
	maxQueue int

	mu      sync.Mutex
	pending []*request[T] // FIFO, at most maxQueue
	closed  bool
	waiting int           // callers waiting for room
	room    chan struct{} // closed when room is made for the waiting

	wake chan struct{} // capacity 1: "pending may be non-empty or closed"
	done chan struct{} // closed when the committer goroutine returns
}

// request is one item of a Do call, waiting for its commit.
type request[T any] struct {
	ctx  context.Context
	item T
	res  chan error // buffered for all the caller's items: sends never block
}

// New starts a Batcher that commits with commit.
func New[T any](commit CommitFunc[T], opts Options) *Batcher[T] {
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = DefaultMaxBatch
	}
	if opts.MaxQueue <= 0 {
		opts.MaxQueue = DefaultMaxQueue
	}
	b := &Batcher[T]{
		commit:   commit,
		maxBatch: opts.MaxBatch,
		maxQueue: opts.MaxQueue,
		wake:     make(chan struct{}, 1),
		done:     make(chan struct{}),
		room:     make(chan struct{}),
	}
	go b.run()
	return b
}

// Do queues item and waits until the batch holding it is committed,
// returning the commit's error. When ctx ends first, Do returns ctx.Err()
// and the item may or may not be committed: an item whose caller has
// already given up is dropped before its commit starts, but a commit in
// flight is not undone.
func (b *Batcher[T]) Do(ctx context.Context, item T) error {
	return b.DoAll(ctx, []T{item})
}

// DoAll is Do for several items: it queues all of them or none (ErrFull
// when they do not fit), waits until every one is committed and returns
// the first commit error. The items may be split over several commits.
func (b *Batcher[T]) DoAll(ctx context.Context, items []T) error {
	if len(items) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// One result channel for all, sized so the committer never blocks.
	res := make(chan error, len(items))
	reqs := make([]*request[T], len(items))
	for i, item := range items {
		reqs[i] = &request[T]{ctx: ctx, item: item, res: res}
	}
	if err := b.enqueue(ctx, reqs); err != nil {
		return err
	}
	var first error
	for range items {
		select {
		case err := <-res:
			if first == nil {
				first = err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return first
}

// enqueue queues reqs, waiting for room while the queue is full.
func (b *Batcher[T]) enqueue(ctx context.Context, reqs []*request[T]) error {
	if len(reqs) > b.maxQueue {
		return ErrFull // would never fit
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for {
		if b.closed {
			return ErrClosed
		}
		if len(b.pending)+len(reqs) <= b.maxQueue {
			b.pending = append(b.pending, reqs...)
			b.signal()
			return nil
		}
		room := b.room
		b.waiting++
		b.mu.Unlock()
		select {
		case <-room:
		case <-ctx.Done():
		}
		b.mu.Lock()
		b.waiting--
		if ctx.Err() != nil {
			return ErrFull
		}
	}
}

// makeRoomLocked wakes the callers waiting for room, to look again.
func (b *Batcher[T]) makeRoomLocked() {
	if b.waiting > 0 {
		close(b.room)
		b.room = make(chan struct{})
	}
}

// signal wakes the committer without ever blocking: one token is enough,
// since the committer drains everything pending each time it wakes.
func (b *Batcher[T]) signal() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// Close commits what is pending, stops the committer and waits for it.
// Do calls after Close return ErrClosed. Once closed, the first failed
// commit fails everything still pending with its error, so that a dead
// database cannot hold Close for one timeout per batch. Close may be
// called more than once.
func (b *Batcher[T]) Close() {
	b.mu.Lock()
	b.closed = true
	b.signal()
	b.makeRoomLocked() // the waiting get ErrClosed
	b.mu.Unlock()
	<-b.done
}

// run is the committer: it sleeps until woken, then commits batches until
// nothing is pending.
func (b *Batcher[T]) run() {
	defer close(b.done)
	for range b.wake {
		for {
			batch, closed := b.take()
			if len(batch) == 0 {
				if closed {
					return
				}
				break
			}
			if err := b.commitBatch(batch); err != nil && b.isClosed() {
				b.failPending(err)
				return
			}
		}
	}
}

func (b *Batcher[T]) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

// failPending hands err to every request still queued.
func (b *Batcher[T]) failPending(err error) {
	b.mu.Lock()
	pending := b.pending
	b.pending = nil
	b.makeRoomLocked()
	b.mu.Unlock()
	for _, r := range pending {
		r.res <- err
	}
}

// take removes up to maxBatch requests from the front of the queue.
func (b *Batcher[T]) take() (batch []*request[T], closed bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := min(len(b.pending), b.maxBatch)
	if n == 0 {
		return nil, b.closed
	}
	batch = make([]*request[T], n)
	copy(batch, b.pending)
	rest := copy(b.pending, b.pending[n:])
	clear(b.pending[rest:]) // let the GC have the moved-out requests
	b.pending = b.pending[:rest]
	b.makeRoomLocked()
	return batch, b.closed
}

// commitBatch commits the requests whose callers still wait, hands the
// result to each of them and returns it.
func (b *Batcher[T]) commitBatch(batch []*request[T]) error {
	live := batch[:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.res <- err
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return nil
	}
	ctx, stop := waitersContext(live)
	defer stop()
	items := make([]T, len(live))
	for i, r := range live {
		items[i] = r.item
	}
	err := b.commit(ctx, items)
	for _, r := range live {
		r.res <- err
	}
	return err
}

// waitersContext returns a context cancelled when the contexts of all the
// requests are done: the commit is still worth finishing while anyone
// waits for it.
func waitersContext[T any](reqs []*request[T]) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	left := int64(len(reqs))
	stops := make([]func() bool, 0, len(reqs))
	for _, r := range reqs {
		stops = append(stops, context.AfterFunc(r.ctx, func() {
			if atomic.AddInt64(&left, -1) == 0 {
				cancel()
			}
		}))
	}
	return ctx, func() {
		for _, s := range stops {
			s()
		}
		cancel()
	}
}
