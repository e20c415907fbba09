package engineio

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// flushRecorder is a flushTarget that notes when, and in what order, it was
// flushed, and may hold its flusher up.
type flushRecorder struct {
	name  string
	log   *flushLog
	block chan struct{} // when set, flush waits for it
}

type flushLog struct {
	mu      sync.Mutex
	order   []string
	at      map[string]time.Time
	running atomic.Int32
	peak    atomic.Int32
	done    chan struct{}
	want    int
}

func newFlushLog(want int) *flushLog {
	return &flushLog{at: map[string]time.Time{}, done: make(chan struct{}), want: want}
}

func (r *flushRecorder) flush(uint64) {
	l := r.log
	n := l.running.Add(1)
	for p := l.peak.Load(); n > p && !l.peak.CompareAndSwap(p, n); p = l.peak.Load() {
	}
	if r.block != nil {
		<-r.block
	}
	l.running.Add(-1)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.order = append(l.order, r.name)
	l.at[r.name] = time.Now()
	if len(l.order) == l.want {
		close(l.done)
	}
}

func (l *flushLog) wait(t *testing.T) {
	t.Helper()
	select {
	case <-l.done:
	case <-time.After(5 * time.Second):
		t.Fatalf("flushed %v, want %d flushes", l.order, l.want)
	}
}

// An urgent entry (an Immediate message) goes before the ready ones that
// queued earlier.
func TestFlusherUrgentFirst(t *testing.T) {
	f := newFlusher(1)
	l := newFlushLog(4)
	hold := make(chan struct{})
	f.now(flushEntry{&flushRecorder{name: "busy", log: l, block: hold}, 1}, false)
	for l.running.Load() == 0 { // the only flushing goroutine is busy
		time.Sleep(time.Millisecond)
	}
	for _, name := range []string{"a", "b"} {
		f.now(flushEntry{&flushRecorder{name: name, log: l}, 1}, false)
	}
	f.now(flushEntry{&flushRecorder{name: "urgent", log: l}, 1}, true)
	close(hold)
	l.wait(t)
	if got := l.order; got[1] != "urgent" || got[2] != "a" || got[3] != "b" {
		t.Fatalf("order %v, want busy, urgent, a, b", got)
	}
}

// Urgent entries go first, but not for ever: one that waits in the
// ready queue goes after maxUrgentStreak of them.
func TestFlusherUrgentCannotStarveTheRest(t *testing.T) {
	f := newFlusher(1)
	const urgent = 3 * maxUrgentStreak
	l := newFlushLog(2 + urgent)
	hold := make(chan struct{})
	f.now(flushEntry{&flushRecorder{name: "busy", log: l, block: hold}, 1}, false)
	for l.running.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	f.now(flushEntry{&flushRecorder{name: "broadcast", log: l}, 1}, false)
	for i := range urgent {
		f.now(flushEntry{&flushRecorder{name: "pong" + strconv.Itoa(i), log: l}, 1}, true)
	}
	close(hold)
	l.wait(t)
	if got := l.order[1+maxUrgentStreak]; got != "broadcast" {
		t.Fatalf("after busy and %d urgent: %s, want the ready one; order %v", maxUrgentStreak, got, l.order)
	}
}

// Entries that wait are flushed once their time has come, not before,
// earliest first, whatever the order they were scheduled in; the timer
// is set again for the slots left.
func TestFlusherAtWaits(t *testing.T) {
	f := newFlusher(2)
	l := newFlushLog(3)
	start := time.Now()
	due := map[string]time.Duration{"late": 60 * time.Millisecond, "soon": 10 * time.Millisecond, "mid": 30 * time.Millisecond}
	for _, name := range []string{"late", "soon", "mid"} {
		f.at(flushEntry{&flushRecorder{name: name, log: l}, 1}, start.Add(due[name]))
	}
	l.wait(t)
	if got := l.order; got[0] != "soon" || got[1] != "mid" || got[2] != "late" {
		t.Fatalf("order %v, want soon, mid, late", got)
	}
	for name, d := range due {
		if early := start.Add(d).Sub(l.at[name]); early > 0 {
			t.Errorf("%s flushed %v early", name, early)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.slots) != 0 || len(f.order) != 0 || f.armed != 0 {
		t.Fatalf("slots left: %v %v, armed %d", f.slots, f.order, f.armed)
	}
}

// However many connections are due at once, at most max goroutines
// flush, and every one of them is flushed.
func TestFlusherBoundsItsGoroutines(t *testing.T) {
	const n = 500
	f := newFlusher(2)
	l := newFlushLog(n)
	hold := make(chan struct{})
	for i := range n {
		f.now(flushEntry{&flushRecorder{name: string(rune(i)), log: l, block: hold}, 1}, i%7 == 0)
	}
	time.Sleep(10 * time.Millisecond)
	close(hold)
	l.wait(t)
	if p := l.peak.Load(); p > 2 {
		t.Fatalf("%d flushes at once, want at most 2", p)
	}
	// The goroutines exit once nothing is queued.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		f.mu.Lock()
		running, queued := f.running, f.ready.len()+f.urgent.len()
		f.mu.Unlock()
		if running == 0 && queued == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the flushes: %d running, %d queued", running, queued)
		}
	}
}
