package batch

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// recorder is a commit function that keeps every batch it was given.
type recorder struct {
	mu      sync.Mutex
	batches [][]int
	err     error
	gate    chan struct{} // when non-nil, each commit waits until it is closed
	entered chan struct{} // when non-nil, gets a token as each commit starts
}

func (r *recorder) commit(ctx context.Context, items []int) error {
	if r.entered != nil {
		r.entered <- struct{}{}
	}
	if r.gate != nil {
		select {
		case <-r.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.batches = append(r.batches, slices.Clone(items))
	return r.err
}

func (r *recorder) all() (batches [][]int, items []int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range r.batches {
		items = append(items, b...)
	}
	return slices.Clone(r.batches), items
}

func TestSingleItemCommitsWithoutDelay(t *testing.T) {
	// Inside a bubble the clock only moves when every goroutine is
	// blocked on a timer: an unchanged clock proves no timer wait.
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		b := New(rec.commit, Options{})
		defer b.Close()
		start := time.Now()
		if err := b.Do(context.Background(), 7); err != nil {
			t.Fatalf("Do: %v", err)
		}
		if d := time.Since(start); d != 0 {
			t.Fatalf("Do waited %v on a timer", d)
		}
		if batches, _ := rec.all(); len(batches) != 1 || !slices.Equal(batches[0], []int{7}) {
			t.Fatalf("batches = %v, want [[7]]", batches)
		}
	})
}

func TestConcurrentCallsShareCommits(t *testing.T) {
	const callers = 200
	rec := &recorder{gate: make(chan struct{}), entered: make(chan struct{}, callers)}
	b := New(rec.commit, Options{MaxBatch: 64})
	defer b.Close()

	var wg sync.WaitGroup
	errs := make(chan error, callers)
	wg.Go(func() { errs <- b.Do(context.Background(), 0) })
	// Hold the first commit until every other caller has queued, so that
	// they must share the following commits.
	<-rec.entered
	for i := 1; i < callers; i++ {
		wg.Go(func() { errs <- b.Do(context.Background(), i) })
	}
	waitPending(t, b, callers-1)
	close(rec.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Do: %v", err)
		}
	}
	batches, items := rec.all()
	slices.Sort(items)
	if len(items) != callers || items[0] != 0 || items[callers-1] != callers-1 || len(slices.Compact(items)) != callers {
		t.Fatalf("committed %d items, want each of %d exactly once", len(items), callers)
	}
	// 1 for the first caller, then ceil(199/64) = 4.
	if len(batches) != 5 {
		t.Fatalf("%d commits for %d callers, want 5", len(batches), callers)
	}
	for _, bt := range batches {
		if len(bt) > 64 {
			t.Fatalf("a batch of %d items exceeds MaxBatch 64", len(bt))
		}
	}
}

func TestErrorReachesEveryWaiter(t *testing.T) {
	boom := errors.New("boom")
	const callers = 20
	rec := &recorder{gate: make(chan struct{}), entered: make(chan struct{}, callers), err: boom}
	b := New(rec.commit, Options{})
	defer b.Close()

	errs := make(chan error, callers)
	go func() { errs <- b.Do(context.Background(), 0) }()
	<-rec.entered
	for i := 1; i < callers; i++ {
		go func() { errs <- b.Do(context.Background(), i) }()
	}
	waitPending(t, b, callers-1)
	close(rec.gate)
	for range callers {
		if err := <-errs; !errors.Is(err, boom) {
			t.Fatalf("Do = %v, want %v", err, boom)
		}
	}
	if batches, _ := rec.all(); len(batches) != 2 {
		t.Fatalf("%d commits, want 2", len(batches))
	}
}

func TestFullQueue(t *testing.T) {
	rec := &recorder{gate: make(chan struct{}), entered: make(chan struct{}, 2)}
	b := New(rec.commit, Options{MaxQueue: 3})
	defer b.Close()
	defer close(rec.gate)

	// One item in the blocked commit, three queued: the fifth waits for
	// room until its context ends.
	go b.Do(context.Background(), 0)
	<-rec.entered
	for i := 1; i <= 3; i++ {
		go b.Do(context.Background(), i)
	}
	waitPending(t, b, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := b.Do(ctx, 99); !errors.Is(err, ErrFull) {
		t.Fatalf("Do on a full queue = %v, want ErrFull", err)
	}
}

// A burst larger than the queue waits for room instead of failing.
func TestBurstWaitsForRoom(t *testing.T) {
	rec := &recorder{}
	b := New(rec.commit, Options{MaxBatch: 2, MaxQueue: 3})
	defer b.Close()
	errs := make(chan error)
	for i := range 50 {
		go func() { errs <- b.Do(context.Background(), i) }()
	}
	for range 50 {
		if err := <-errs; err != nil {
			t.Fatalf("Do in a burst = %v", err)
		}
	}
	if _, items := rec.all(); len(items) != 50 {
		t.Fatalf("%d items committed, want 50", len(items))
	}
}

// Close wakes the callers waiting for room.
func TestCloseEndsTheWaitForRoom(t *testing.T) {
	rec := &recorder{gate: make(chan struct{}), entered: make(chan struct{}, 2)}
	b := New(rec.commit, Options{MaxQueue: 1})
	go b.Do(context.Background(), 0)
	<-rec.entered
	go b.Do(context.Background(), 1)
	waitPending(t, b, 1)
	errs := make(chan error)
	go func() { errs <- b.Do(context.Background(), 2) }()
	time.Sleep(20 * time.Millisecond) // let it wait for room
	go func() { time.Sleep(20 * time.Millisecond); close(rec.gate) }()
	b.Close()
	// Either the room made by the commit or Close ended its wait.
	if err := <-errs; err != nil && !errors.Is(err, ErrClosed) {
		t.Fatalf("Do waiting for room at Close = %v", err)
	}
}

func TestCloseFlushesAndRefuses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{gate: make(chan struct{})}
		b := New(rec.commit, Options{})
		errs := make(chan error, 10)
		for i := range 10 {
			go func() { errs <- b.Do(context.Background(), i) }()
		}
		synctest.Wait() // all ten queued or in the blocked commit
		closed := make(chan struct{})
		go func() { b.Close(); close(closed) }()
		synctest.Wait()
		select {
		case <-closed:
			t.Fatal("Close returned before the pending items were committed")
		default:
		}
		close(rec.gate)
		<-closed
		for range 10 {
			if err := <-errs; err != nil {
				t.Fatalf("Do during Close: %v", err)
			}
		}
		if _, items := rec.all(); len(items) != 10 {
			t.Fatalf("Close committed %d of 10 items", len(items))
		}
		if err := b.Do(context.Background(), 1); !errors.Is(err, ErrClosed) {
			t.Fatalf("Do after Close = %v, want ErrClosed", err)
		}
		b.Close() // a second Close is harmless
		// synctest.Test fails if a goroutine of the bubble is left.
	})
}

func TestCancelledCallerIsDropped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{gate: make(chan struct{})}
		b := New(rec.commit, Options{})
		defer b.Close()

		first := make(chan error, 1)
		go func() { first <- b.Do(context.Background(), 1) }()
		synctest.Wait() // item 1 is in the blocked commit

		ctx, cancel := context.WithCancel(context.Background())
		second := make(chan error, 1)
		go func() { second <- b.Do(ctx, 2) }()
		synctest.Wait()
		cancel()
		if err := <-second; !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled Do = %v, want context.Canceled", err)
		}
		close(rec.gate)
		if err := <-first; err != nil {
			t.Fatalf("Do: %v", err)
		}
		b.Close()
		if _, items := rec.all(); !slices.Equal(items, []int{1}) {
			t.Fatalf("committed %v, want [1]: item 2's caller had given up", items)
		}
	})
}

func TestCommitContextEndsWhenAllWaitersLeave(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		started := make(chan struct{})
		var commitErr error
		b := New(func(ctx context.Context, _ []int) error {
			close(started)
			<-ctx.Done()
			commitErr = ctx.Err()
			return commitErr
		}, Options{})
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := b.Do(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Do = %v, want DeadlineExceeded", err)
		}
		<-started
		b.Close() // returns only if the commit saw its context end
		if !errors.Is(commitErr, context.Canceled) {
			t.Fatalf("commit context ended with %v, want Canceled", commitErr)
		}
	})
}

func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	for range 20 {
		rec := &recorder{}
		b := New(rec.commit, Options{})
		var wg sync.WaitGroup
		for i := range 10 {
			wg.Go(func() { _ = b.Do(context.Background(), i) })
		}
		wg.Wait()
		b.Close()
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines before, %d after", before, runtime.NumGoroutine())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitPending waits until n requests are queued (not yet taken).
func waitPending[T any](t *testing.T, b *Batcher[T], n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b.mu.Lock()
		got := len(b.pending)
		b.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d requests pending, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestDoAll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		b := New(rec.commit, Options{MaxBatch: 4, MaxQueue: 10})
		defer b.Close()
		if err := b.DoAll(context.Background(), []int{1, 2, 3, 4, 5, 6}); err != nil {
			t.Fatalf("DoAll: %v", err)
		}
		batches, items := rec.all()
		if !slices.Equal(items, []int{1, 2, 3, 4, 5, 6}) || len(batches) != 2 {
			t.Fatalf("batches = %v, want [[1 2 3 4] [5 6]]", batches)
		}
		if err := b.DoAll(context.Background(), nil); err != nil {
			t.Fatalf("DoAll(nil): %v", err)
		}
		if err := b.DoAll(context.Background(), make([]int, 11)); !errors.Is(err, ErrFull) {
			t.Fatalf("DoAll of more than MaxQueue = %v, want ErrFull", err)
		}
		if _, items := rec.all(); len(items) != 6 {
			t.Fatalf("a refused DoAll committed %d items", len(items)-6)
		}
	})
}

func TestCloseGivesUpOnAFailingCommit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		down := errors.New("database down")
		rec := &recorder{gate: make(chan struct{}), err: down}
		b := New(rec.commit, Options{MaxBatch: 2})
		errs := make(chan error, 7)
		for i := range 7 {
			go func() { errs <- b.Do(context.Background(), i) }()
		}
		synctest.Wait() // one batch in the blocked commit, the rest queued
		closed := make(chan struct{})
		go func() { b.Close(); close(closed) }()
		synctest.Wait()
		close(rec.gate)
		<-closed
		for range 7 {
			if err := <-errs; !errors.Is(err, down) {
				t.Fatalf("Do = %v, want %v", err, down)
			}
		}
		// The batch in flight fails; the next one, committed after Close,
		// fails too; the rest are not tried.
		if batches, _ := rec.all(); len(batches) > 2 {
			t.Fatalf("%d commits after the database failed during Close, want at most 2", len(batches))
		}
	})
}
