package failover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/globalchat/globalchat"
	"github.com/globalchat/globalchat/internal/batch"
)

// Defaults of Options.
const (
	// Gap is how far each move between sequencers jumps the seq: room for
	// what the other one may still hand out before every instance has
	// moved (a few seconds of messages).
	Gap = 100_000
	// PublishTimeout is how long a publish waits for Redis before the
	// instance declares it away: a Redis that hangs (SIGSTOP) is away
	// after this long.
	PublishTimeout = 2 * time.Second
	pollEvery      = 250 * time.Millisecond
	probeEvery     = time.Second
	pollPage       = 500
)

var _ globalchat.Bus = (*Bus)(nil)

// Options configures a Bus.
type Options struct {
	Primary globalchat.Bus       // the Redis bus
	Store   globalchat.Sequencer // the sequencer of record while Redis is away
	State   *globalchat.State    // where the mode is recorded
	Logger  *slog.Logger
	// StartAway starts on the store (Redis did not answer at start).
	StartAway bool
}

// Bus is a globalchat.Bus that moves between Redis and the store.
type Bus struct {
	primary globalchat.Bus
	store   globalchat.Sequencer
	state   *globalchat.State
	log     *slog.Logger

	away    atomic.Bool
	appends *batch.Batcher[*appendReq]
	poke    chan struct{}
	ctx     context.Context
	stop    context.CancelFunc
	wg      sync.WaitGroup

	mu       sync.Mutex // guards what follows, and each move
	d        *deliverer
	fenced   bool  // the store's counter was raised since the move away
	epoch    int64 // the store's epoch this instance appends under
	pollFrom int64 // the poller reads the store after this seq
	pollSet  bool  // pollFrom was read from the store (not the whole table)
}

// New returns a Bus; Subscribe starts it.
func New(opts Options) *Bus {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.State == nil {
		opts.State = globalchat.NewState(opts.Logger, nil)
	}
	ctx, stop := context.WithCancel(context.Background())
	b := &Bus{primary: opts.Primary, store: opts.Store, state: opts.State, log: opts.Logger,
		poke: make(chan struct{}, 1), ctx: ctx, stop: stop}
	b.appends = batch.New(b.appendBatch, batch.Options{})
	if opts.StartAway {
		b.away.Store(true)
		b.state.SetRedisAway(true, errors.New("redis did not answer at start"))
	}
	return b
}

// Subscribe implements globalchat.Bus.
func (b *Bus) Subscribe(after int64, handler func(globalchat.Message)) {
	b.mu.Lock()
	if b.d != nil {
		b.mu.Unlock()
		return
	}
	b.d = newDeliverer(handler)
	// The poller starts where the caller does (unknown: where the store
	// stands once it answers, see startPoll).
	if after >= 0 {
		b.d.last, b.pollFrom, b.pollSet = after, after, true
	}
	away := b.away.Load()
	b.mu.Unlock()
	if away {
		// Redis did not answer at start: its subscriber waits for it in
		// the background, the instance does not.
		b.wg.Go(func() { b.primary.Subscribe(after, b.d.deliver) })
	} else {
		b.primary.Subscribe(after, b.d.deliver)
	}
	b.wg.Add(2)
	go b.pollLoop()
	go b.watchLoop()
}

// Publish implements globalchat.Bus: on Redis while it answers, on the
// store while it does not.
func (b *Bus) Publish(ctx context.Context, m globalchat.Message) (globalchat.Message, bool, error) {
	if !b.away.Load() {
		c, cancel := context.WithTimeout(ctx, PublishTimeout)
		stored, dup, err := b.primary.Publish(c, m)
		cancel()
		if err == nil || !redisAway(err) {
			return stored, dup, err
		}
		b.moveAway(err)
	}
	return b.append(ctx, m)
}

// redisAway tells a Redis that is away (refused, timed out) from one that
// answered no (a full spool, bad data).
func redisAway(err error) bool {
	if errors.Is(err, globalchat.ErrOverloaded) {
		return false
	}
	return errors.Is(err, globalchat.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded)
}

// append numbers and stores m in the store, then wakes the poller that
// delivers it. When another instance moved the cluster back to Redis
// meanwhile, m goes to Redis too, or, if this instance cannot reach it,
// is appended under the new epoch.
func (b *Bus) append(ctx context.Context, m globalchat.Message) (globalchat.Message, bool, error) {
	for range 2 {
		if err := b.ensureFenced(ctx); err != nil {
			return globalchat.Message{}, false, err
		}
		req := &appendReq{msg: m}
		err := b.appends.Do(ctx, req)
		if errors.Is(err, globalchat.ErrMovedBack) {
			// Back under the ended epoch: the store knows the cluster
			// moved already and changes nothing.
			if b.tryReturn() {
				return b.Publish(ctx, m)
			}
			b.unfence()
			continue
		}
		if err != nil {
			return globalchat.Message{}, false, err
		}
		b.wake()
		return req.res.Message, req.res.Duplicate, nil
	}
	return globalchat.Message{}, false, fmt.Errorf("failover: the sequencer keeps moving: %w", globalchat.ErrUnavailable)
}

// appendReq is one message of an append batch and, once committed, what
// became of it.
type appendReq struct {
	msg globalchat.Message
	res globalchat.Appended
}

// appendBatch appends what every sender of the instance has pending in one
// transaction: the counter's row lock is taken once per batch, not once
// per message.
func (b *Bus) appendBatch(ctx context.Context, reqs []*appendReq) error {
	msgs := make([]globalchat.Message, len(reqs))
	for i, r := range reqs {
		msgs[i] = r.msg
	}
	b.mu.Lock()
	epoch := b.epoch
	b.mu.Unlock()
	res, err := b.store.Append(ctx, epoch, msgs...)
	if err != nil {
		return err
	}
	for i, r := range reqs {
		r.res = res[i]
	}
	return nil
}

// moveAway puts the instance on the store.
func (b *Bus) moveAway(cause error) {
	b.mu.Lock()
	if b.away.Load() {
		b.mu.Unlock()
		return
	}
	b.away.Store(true)
	b.fenced = false
	b.pollFrom = max(b.pollFrom, b.d.lastSeq())
	b.mu.Unlock()
	b.state.SetRedisAway(true, cause)
	b.wake()
}

// ensureFenced raises the store's counter, once per move away, above
// every seq this instance has seen, by Gap (room for what Redis numbered
// and this instance has not seen yet), and takes the epoch it appends
// under.
func (b *Bus) ensureFenced(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fenced {
		return nil
	}
	next, epoch, err := b.store.Fence(ctx, b.d.lastSeq()+Gap)
	if err != nil {
		return err
	}
	b.fenced, b.epoch = true, epoch
	b.log.Info("failover: the store is the sequencer", "next seq", next, "epoch", epoch)
	return nil
}

// unfence forgets the epoch, which ended.
func (b *Bus) unfence() {
	b.mu.Lock()
	b.fenced = false
	b.mu.Unlock()
}

func (b *Bus) wake() {
	select {
	case b.poke <- struct{}{}:
	default:
	}
}

// pollLoop delivers what the store holds after pollFrom, while away.
func (b *Bus) pollLoop() {
	defer b.wg.Done()
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-t.C:
		case <-b.poke:
		}
		b.pollOnce()
	}
}

func (b *Bus) pollOnce() {
	if !b.away.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, PublishTimeout)
	defer cancel()
	if n, err := b.readStore(ctx); err == nil && n == pollPage {
		b.wake()
	}
}

// readStore delivers a page of what the store holds after pollFrom and
// returns how many messages it read.
func (b *Bus) readStore(ctx context.Context) (int, error) {
	if !b.startPoll(ctx) {
		return 0, errors.New("failover: the store's last seq is not known yet")
	}
	b.mu.Lock()
	from := b.pollFrom
	b.mu.Unlock()
	msgs, err := b.store.After(ctx, from, pollPage)
	if err != nil {
		return 0, err // the store is away too: the chat refuses sends meanwhile
	}
	for _, m := range msgs {
		b.d.deliver(m)
		from = m.Seq
	}
	b.mu.Lock()
	b.pollFrom = max(b.pollFrom, from)
	b.mu.Unlock()
	return len(msgs), nil
}

// readStoreToEnd delivers everything the store holds after pollFrom.
func (b *Bus) readStoreToEnd(ctx context.Context) error {
	for {
		n, err := b.readStore(ctx)
		if err != nil || n < pollPage {
			return err
		}
	}
}

// startPoll makes sure the poller starts after what the store held when
// this process started (not at its first message), had the store not
// answered then; false while it still does not.
func (b *Bus) startPoll(ctx context.Context) bool {
	b.mu.Lock()
	set := b.pollSet
	b.mu.Unlock()
	if set {
		return true
	}
	last, err := b.store.LastSeq(ctx)
	if err != nil {
		return false
	}
	b.mu.Lock()
	b.pollFrom, b.pollSet = max(b.pollFrom, last), true
	b.mu.Unlock()
	return false // the next round reads from there
}

// watchLoop checks Redis every probeEvery: an instance with nothing to
// publish must move away too (or it would go on delivering only what
// Redis carries, and miss what the others append to the store), and an
// instance away moves back once Redis answers.
func (b *Bus) watchLoop() {
	defer b.wg.Done()
	t := time.NewTicker(probeEvery)
	defer t.Stop()
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-t.C:
		}
		if b.away.Load() {
			b.tryReturn()
			continue
		}
		if p, ok := b.primary.(globalchat.Checker); ok {
			ctx, cancel := context.WithTimeout(b.ctx, PublishTimeout)
			err := p.Ping(ctx)
			cancel()
			if err != nil && b.ctx.Err() == nil {
				b.moveAway(err)
			}
		}
	}
}

// tryReturn moves the instance back to Redis if Redis answers and its
// subscriber is up: the store ends the epoch (no append lands after this
// point) and reserves the seqs from where it stopped for Redis, whose
// counter is raised to them.
func (b *Bus) tryReturn() bool {
	if r, ok := b.primary.(interface{ Ready() bool }); ok && !r.Ready() {
		return false
	}
	ctx, cancel := context.WithTimeout(b.ctx, PublishTimeout)
	defer cancel()
	b.mu.Lock()
	epoch, fenced := b.epoch, b.fenced
	b.mu.Unlock()
	if !fenced {
		var err error
		if _, epoch, err = b.store.Fence(ctx, 0); err != nil {
			return false // both away: stay, the store decides the order when it returns
		}
	}
	from, err := b.store.Return(ctx, epoch, Gap)
	if err != nil {
		return false
	}
	// Another instance may have moved back first (from is 0): Redis's
	// counter must still be above every seq the store handed out.
	last, err := b.store.LastSeq(ctx)
	if err != nil {
		return false
	}
	if err := b.primary.EnsureSeq(ctx, max(from-1, last)); err != nil {
		return false
	}
	// The epoch is over, so nothing more is appended under it: what was
	// appended since the poller's last read is delivered now, since Redis's
	// subscriber may have started after it (at the store's last seq).
	if err := b.readStoreToEnd(ctx); err != nil {
		return false
	}
	b.mu.Lock()
	b.away.Store(false)
	b.fenced = false
	b.mu.Unlock()
	b.state.SetRedisAway(false, nil)
	b.log.Info("failover: back on Redis", "from seq", max(from, last+1))
	return true
}

// Recent implements globalchat.Bus: Redis's cache; empty while away (the
// chat then reads the store).
func (b *Bus) Recent(ctx context.Context, before int64, limit int) ([]globalchat.Message, error) {
	if b.away.Load() {
		return nil, nil
	}
	return b.primary.Recent(ctx, before, limit)
}

// Since implements globalchat.Bus; while away the answer is incomplete,
// so recovery reads the store.
func (b *Bus) Since(ctx context.Context, after int64, limit int) ([]globalchat.Message, bool, error) {
	if b.away.Load() {
		return nil, false, nil
	}
	return b.primary.Since(ctx, after, limit)
}

// EnsureSeq implements globalchat.Bus.
func (b *Bus) EnsureSeq(ctx context.Context, seq int64) error {
	if b.away.Load() {
		_, _, err := b.store.Fence(ctx, seq+1)
		return err
	}
	return b.primary.EnsureSeq(ctx, seq)
}

// Release drops stored messages from the primary's spool, if it has one.
func (b *Bus) Release(seqs ...int64) {
	if r, ok := b.primary.(interface{ Release(...int64) }); ok {
		r.Release(seqs...)
	}
}

// Close implements globalchat.Bus.
func (b *Bus) Close() error {
	b.stop()
	b.appends.Close()
	err := b.primary.Close()
	b.wg.Wait()
	return err
}
