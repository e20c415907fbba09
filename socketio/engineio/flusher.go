package engineio

import (
	"container/heap"
	"sync"
	"time"
)

// flusher writes the WebSocket queues that are due, from a few goroutines
// instead of one per connection per write.
//
// A broadcast to 10,000 connections used to make 10,000 goroutines
// runnable at once: a write loop each, or a timer goroutine each for the
// writes that wait (the write delay, LazyDelay). Everything else on the
// server, a reconnecting client's handshake and its replay among it,
// then waited for a core behind them: half of the scheduling waits
// were over 10 ms in the churn scenario. Here the connections due queue
// up and at most max goroutines write them, one write each at a time,
// never blocking (see writeNow): a connection whose socket is full gets a
// goroutine of its own for the rest, so that a slow or hostile client
// stalls nobody. The connections that wait share one timer, set for the
// earliest slot of slotWidth that holds any.
type flusher struct {
	max int // flushing goroutines at most
	// origin is where slots count from, on the monotonic clock (times
	// are compared with Sub, never as wall-clock nanoseconds), so that a
	// wall clock stepped back by NTP does not hold writes for as long.
	// It lies one slot in the past: every slot is then at least 1, and
	// armed 0 can mean that the timer is not set.
	origin time.Time

	mu      sync.Mutex
	urgent  fifo // due now, Immediate messages among them: they go first
	ready   fifo // due now
	streak  int  // urgent entries flushed since the last ready one
	running int  // flushing goroutines
	slots   map[int64][]flushEntry
	order   slotHeap    // the slots in use, earliest first
	timer   *time.Timer // fires for armed, the earliest slot
	armed   int64       // 0: the timer is not set
}

// slotWidth is the timer's resolution: a write due at t leaves at most
// this much after t, with every other write due in the same slot.
const slotWidth = time.Millisecond

// flushEntry asks for one flush of c. The ticket is the connection's at
// the time (outbox.ticket): an entry whose connection was rescheduled
// since is stale, and the connection skips it.
type flushEntry struct {
	c      flushTarget
	ticket uint64
}

// flushTarget is what the flusher flushes: a *Conn.
type flushTarget interface{ flush(ticket uint64) }

func newFlusher(max int) *flusher {
	return &flusher{max: max, origin: time.Now().Add(-slotWidth), slots: make(map[int64][]flushEntry)}
}

// now queues e to be flushed as soon as a flushing goroutine is free.
func (f *flusher) now(e flushEntry, urgent bool) {
	f.mu.Lock()
	if urgent {
		f.urgent.push(e)
	} else {
		f.ready.push(e)
	}
	f.startLocked()
	f.mu.Unlock()
}

// at queues e to be flushed once t has come.
func (f *flusher) at(e flushEntry, t time.Time) {
	slot := (int64(t.Sub(f.origin)) + int64(slotWidth) - 1) / int64(slotWidth)
	f.mu.Lock()
	waiting, ok := f.slots[slot]
	if !ok {
		heap.Push(&f.order, slot)
	}
	f.slots[slot] = append(waiting, e)
	if f.armed == 0 || slot < f.armed {
		f.armLocked(slot)
	}
	f.mu.Unlock()
}

func (f *flusher) armLocked(slot int64) {
	d := time.Until(f.origin.Add(time.Duration(slot) * slotWidth))
	if f.timer == nil {
		f.timer = time.AfterFunc(d, f.fire)
	} else {
		f.timer.Reset(d)
	}
	f.armed = slot
}

// fire moves the slots whose time has come to the ready queue.
func (f *flusher) fire() {
	now := int64(time.Since(f.origin)) / int64(slotWidth)
	f.mu.Lock()
	defer f.mu.Unlock()
	for len(f.order) > 0 && f.order[0] <= now {
		slot := heap.Pop(&f.order).(int64)
		for _, e := range f.slots[slot] {
			f.ready.push(e)
		}
		delete(f.slots, slot)
	}
	f.armed = 0
	if len(f.order) > 0 {
		f.armLocked(f.order[0])
	}
	f.startLocked()
}

// startLocked starts flushing goroutines for what is due, up to max.
func (f *flusher) startLocked() {
	for f.running < f.max && f.running < f.urgent.len()+f.ready.len() {
		f.running++
		go f.run()
	}
}

// maxUrgentStreak is how many urgent entries go before a ready one that
// waits: urgent first, but clients that keep asking for answers (a ping
// flood is one Immediate pong after another) cannot hold back everyone's
// broadcasts.
const maxUrgentStreak = 16

// run flushes what is due, urgent first, until nothing is.
func (f *flusher) run() {
	for {
		f.mu.Lock()
		e, ok := f.nextLocked()
		if !ok {
			f.running--
			f.mu.Unlock()
			return
		}
		f.mu.Unlock()
		e.c.flush(e.ticket)
	}
}

// nextLocked takes the entry to flush next: an urgent one, unless
// maxUrgentStreak of them went in a row while ready ones waited.
func (f *flusher) nextLocked() (flushEntry, bool) {
	if f.streak < maxUrgentStreak || f.ready.len() == 0 {
		if e, ok := f.urgent.pop(); ok {
			f.streak++
			return e, true
		}
	}
	f.streak = 0
	if e, ok := f.ready.pop(); ok {
		return e, true
	}
	return f.urgent.pop()
}

// fifo is a queue of entries that reuses its array once emptied.
type fifo struct {
	items []flushEntry
	head  int
}

func (q *fifo) len() int { return len(q.items) - q.head }

func (q *fifo) push(e flushEntry) { q.items = append(q.items, e) }

func (q *fifo) pop() (flushEntry, bool) {
	if q.head == len(q.items) {
		return flushEntry{}, false
	}
	e := q.items[q.head]
	q.items[q.head] = flushEntry{} // the Conn is not kept alive
	q.head++
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	}
	return e, true
}

// slotHeap is a min-heap of slots (container/heap).
type slotHeap []int64

func (h slotHeap) Len() int           { return len(h) }
func (h slotHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h slotHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *slotHeap) Push(x any)        { *h = append(*h, x.(int64)) }
func (h *slotHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
