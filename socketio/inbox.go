package socketio

import "sync"

// maxInbox bounds the packets of one connection waiting for their turn;
// past it the connection's reading waits (the client's sending with it).
const maxInbox = 64

// inbox runs the packets of one connection one at a time, in arrival
// order, on a goroutine of its own while it holds some: the connection's
// read loop only queues them, so that a handler waiting on a dependency
// (a message waiting for Redis or the database) does not stop the reading
// of what comes next, heartbeats included. It costs nothing while empty.
type inbox struct {
	mu      sync.Mutex
	room    *sync.Cond // signalled when a job leaves; made at the first wait
	jobs    []func()
	running bool
}

// add queues job, waiting while the inbox is full.
func (b *inbox) add(job func()) {
	b.mu.Lock()
	for len(b.jobs) >= maxInbox {
		if b.room == nil {
			b.room = sync.NewCond(&b.mu)
		}
		b.room.Wait()
	}
	b.jobs = append(b.jobs, job)
	start := !b.running
	b.running = true
	b.mu.Unlock()
	if start {
		go b.run()
	}
}

// do runs job after every job queued before it and returns when it has
// run.
func (b *inbox) do(job func()) {
	done := make(chan struct{})
	b.add(func() {
		defer close(done)
		job()
	})
	<-done
}

func (b *inbox) run() {
	for {
		b.mu.Lock()
		if len(b.jobs) == 0 {
			b.jobs, b.running = nil, false
			b.mu.Unlock()
			return
		}
		job := b.jobs[0]
		b.jobs[0] = nil
		b.jobs = b.jobs[1:]
		if b.room != nil {
			b.room.Signal()
		}
		b.mu.Unlock()
		job()
	}
}
