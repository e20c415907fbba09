package engineio

import (
	"sync/atomic"
	"time"
)

// admission bounds the connections being opened at once. Opening is the
// costliest thing a client asks for: the handshake and upgrade, then its
// first message, where the layer above sets the session up (for
// Socket.IO, the CONNECT: authentication, history, presence). Thousands
// of clients arriving at once would all be runnable together, and every
// goroutine of the chat itself (a message's read, its Redis round trips,
// its broadcast) would wait behind the whole crowd for a turn on a core.
// Held back here, a client waits parked, costing no CPU, in arrival
// order, and the run queue stays short. Only the server's work is
// bounded: a slot is not held while waiting for the client, and it is
// given back after at most hold even if the work goes on, so that
// openings stuck on a hung dependency (a database that does not answer
// within its timeout) do not hold back every client behind them.
type admission struct {
	slots chan struct{}
	wait  time.Duration // the longest anyone waits for a slot
	hold  time.Duration // the longest a slot is held
}

// openingHold is admission's hold: opening a connection takes
// milliseconds of work when its dependencies answer.
const openingHold = time.Second

func newAdmission(n int, wait, hold time.Duration) *admission {
	if n <= 0 {
		return nil
	}
	return &admission{slots: make(chan struct{}, n), wait: wait, hold: hold}
}

// enter takes a slot, waiting in arrival order until one is free, done is
// closed or the wait is over. It returns the function that gives the
// slot back (at most once, and when held by itself after the hold), or
// nil when it got none. Only work that waits on dependencies needs the
// hold: its timer is not free when thousands connect at once.
func (a *admission) enter(done <-chan struct{}, held bool) (leave func()) {
	if a == nil {
		return func() {}
	}
	if !a.take(done) {
		return nil
	}
	var left atomic.Bool
	give := func() {
		if left.CompareAndSwap(false, true) {
			<-a.slots
		}
	}
	if !held {
		return give
	}
	t := time.AfterFunc(a.hold, give)
	return func() {
		t.Stop()
		give()
	}
}

func (a *admission) take(done <-chan struct{}) bool {
	select {
	case a.slots <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(a.wait)
	defer t.Stop()
	select {
	case a.slots <- struct{}{}:
		return true
	case <-done:
	case <-t.C:
	}
	return false
}
