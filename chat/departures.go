package chat

import (
	"sync"
	"time"
)

// departures delays the leave of a dropped connection by a grace period.
// Its socket stays registered in Presence meanwhile, so that a client
// that comes back in time (a reconnect after a network blip, a page
// reload, a drained instance's clients landing on another one) was never
// gone: nobody is told user:left then user:joined for a blip, and a
// churning crowd costs no presence traffic. A user who does not come back
// is announced gone grace late.
//
// A recovered socket keeps its id, on this instance or another: back
// cancels its pending leave here; on another instance Presence.Remove
// leaves alone a socket that instance now holds.
type departures struct {
	grace time.Duration

	mu      sync.Mutex
	pending map[string]*departure // by socket id
	closed  bool
}

type departure struct {
	timer *time.Timer
	done  chan struct{} // closed when leave has run or was stopped
}

// minRetry is the least wait before a leave that failed is tried again.
const minRetry = time.Second

func newDepartures(grace time.Duration) *departures {
	return &departures{grace: max(grace, 0), pending: make(map[string]*departure)}
}

// after runs leave once the grace has passed, unless back(socketID) comes
// first; with no grace, at once. Nothing is scheduled after close: the
// instance is shutting down, and Presence.Close removes its sockets.
func (d *departures) after(socketID string, leave func()) {
	if d.grace == 0 {
		leave()
		return
	}
	d.schedule(socketID, d.grace, leave)
}

// retry runs again, a grace (at least a second) later, a leave that
// could not be done (presence unreachable): the socket would otherwise
// stay online for good, its keys kept alive by this instance's heartbeat.
func (d *departures) retry(socketID string, leave func()) {
	d.schedule(socketID, max(d.grace, minRetry), leave)
}

func (d *departures) schedule(socketID string, wait time.Duration, leave func()) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	if old := d.pending[socketID]; old != nil && old.timer.Stop() {
		close(old.done)
	}
	dep := &departure{done: make(chan struct{})}
	dep.timer = time.AfterFunc(wait, func() {
		leave()
		d.mu.Lock()
		if d.pending[socketID] == dep {
			delete(d.pending, socketID)
		}
		d.mu.Unlock()
		close(dep.done)
	})
	d.pending[socketID] = dep
}

// back cancels the pending leave of socketID, reporting whether there was
// one; a leave already running is waited for, so that the caller's
// Presence.Add comes after its Remove.
func (d *departures) back(socketID string) bool {
	d.mu.Lock()
	dep := d.pending[socketID]
	delete(d.pending, socketID)
	d.mu.Unlock()
	if dep == nil {
		return false
	}
	if dep.timer.Stop() {
		close(dep.done)
		return true
	}
	<-dep.done
	return false
}

// len returns the number of pending leaves.
func (d *departures) len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.pending)
}

// close drops the pending leaves without running them: at shutdown,
// Presence removes the instance's sockets itself (those that came back
// elsewhere stay, held by their new instance).
func (d *departures) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	for id, dep := range d.pending {
		if dep.timer.Stop() {
			close(dep.done)
		}
		delete(d.pending, id)
	}
}
