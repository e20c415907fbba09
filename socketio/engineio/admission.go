package engineio

import "time"

// admission bounds the connections being opened at once. Opening is the
// costliest thing a client asks for: the handshake and upgrade, then its
// first message, where the layer above sets the session up (for
// Socket.IO, the CONNECT: authentication, history, presence). Thousands
// of clients arriving at once would all be runnable together, and every
// goroutine of the chat itself (a message's read, its Redis round trips,
// its broadcast) would wait behind the whole crowd for a turn on a core.
// Held back here, a client waits parked, costing no CPU, in arrival
// order, and the run queue stays short. Only the server's work is
// bounded: a slot is not held while waiting for the client.
type admission struct {
	slots chan struct{}
	wait  time.Duration // the longest anyone waits for a slot
}

func newAdmission(n int, wait time.Duration) *admission {
	if n <= 0 {
		return nil
	}
	return &admission{slots: make(chan struct{}, n), wait: wait}
}

// enter takes a slot, waiting in arrival order until one is free, done is
// closed or the wait is over; it reports whether it got one.
func (a *admission) enter(done <-chan struct{}) bool {
	if a == nil {
		return true
	}
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

// leave gives back a slot taken by enter.
func (a *admission) leave() {
	if a != nil {
		<-a.slots
	}
}
