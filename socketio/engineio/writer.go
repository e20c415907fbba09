package engineio

import "time"

// outbox is a connection's outbound queue and the pace of its WebSocket
// writes: what Send queues, what a poll or the write loop takes, and how
// long the next WebSocket write waits for company (the write delay). It
// belongs to its Conn, under the Conn's mu; its methods only count and
// decide, the Conn's (below) start and run the writing.
//
// The writes are the server's flusher's (see flusher.go): an idle
// connection, most of a chat's, costs no goroutine for writing, and a
// busy one costs a goroutine only while its socket is full.
type outbox struct {
	frames    []frame
	bytes     int
	immediate bool // the queue holds an Immediate message
	eager     bool // the queue holds a message that is not Lazy

	writing   bool   // a flush is due or running, or a goroutine writes the rest
	waiting   bool   // the flush due waits for the write delay or LazyDelay
	dueLazy   bool   // it waits for LazyDelay: the queue was all Lazy
	ticket    uint64 // the flusher's entry that is current (see flushEntry)
	lastWrite time.Time
	delay     time.Duration // current write delay (see adapt)
	rate      float64       // frames per second written lately
}

// fits reports whether frames of size bytes fit under the bounds.
func (o *outbox) fits(frames, size, maxFrames, maxBytes int) bool {
	return len(o.frames)+frames <= maxFrames && o.bytes+size <= maxBytes
}

// push queues frames of size bytes.
func (o *outbox) push(timing Timing, size int, frames ...frame) {
	o.frames = append(o.frames, frames...)
	o.bytes += size
	o.immediate = o.immediate || timing == Immediate
	o.eager = o.eager || timing != Lazy
}

// take empties the queue and returns what it held.
func (o *outbox) take() []frame {
	frames := o.frames
	o.frames, o.bytes, o.immediate, o.eager = nil, 0, false, false
	return frames
}

// maxSpare bounds the queue array a connection keeps between writes: a
// small one spares an allocation per message, a large one (left by a
// burst) would cost memory on every idle connection.
const maxSpare = 8

// recycle makes frames, which were written, the array of the next queue,
// when nothing was queued meanwhile.
func (o *outbox) recycle(frames []frame) {
	if frames == nil || cap(frames) > maxSpare || o.frames != nil {
		return
	}
	clear(frames) // the payloads are not kept alive
	o.frames = frames[:0]
}

// wait is how long the next write waits at now: nothing when the queue
// holds an Immediate message, lazy when it holds only Lazy ones, else the
// rest of the write delay.
func (o *outbox) wait(now time.Time, lazy time.Duration) time.Duration {
	switch {
	case o.immediate:
		return 0
	case !o.eager && len(o.frames) > 0:
		return lazy
	case o.delay <= 0 || o.lastWrite.IsZero():
		return 0
	}
	return o.delay - now.Sub(o.lastWrite)
}

// The write delay of a connection fed fast. Writes, not bytes, are what a
// busy server spends most on (on loopback a small write costs about 10 µs
// of kernel time on the benchmark machine, whatever its size), so:
//
//   - a connection fed up to maxWriteRate frames a second keeps WriteDelay:
//     a quiet room is written at once;
//   - above that it waits at least 1/maxWriteRate, so that it costs at most
//     maxWriteRate writes a second however fast it is fed (at 60 frames/s,
//     two frames per write);
//   - and the wait grows by delayPerRate per frame per second, up to
//     MaxWriteDelay: 35 ms at 100 frames/s, 50 ms from about 140 on, where
//     12 or more frames leave per write.
//
// The numbers were tuned with chatbench's fanout scenarios; the figures
// are in docs/benchmarks.md.
const (
	maxWriteRate = 30
	delayPerRate = 350 * time.Microsecond
)

// adapt records a write of n frames at now and sets the write delay, from
// base up to ceiling, from the rate the connection was fed since its
// previous write (a moving average, so that a burst does not set the
// delay alone). A base of 0 turns the delay off.
func (o *outbox) adapt(n int, now time.Time, base, ceiling time.Duration) {
	if base <= 0 {
		return
	}
	if !o.lastWrite.IsZero() {
		dt := max(now.Sub(o.lastWrite).Seconds(), 1e-3)
		o.rate += (float64(n)/dt - o.rate) / 4
		d := time.Duration(o.rate * float64(delayPerRate))
		if o.rate > maxWriteRate {
			d = max(d, time.Second/maxWriteRate)
		}
		o.delay = min(max(d, base), ceiling)
	}
	o.lastWrite = now
}

// kickLocked gets the queue moving: wakes a pending poll, or has the
// WebSocket flushed.
func (c *Conn) kickLocked() {
	if c.transport == transportWebSocket {
		switch {
		case c.ws == nil:
		case !c.out.writing:
			c.out.writing = true
			c.startWriteLocked()
		case c.out.waiting && c.out.immediate:
			// The flush waits for the delay, and something must not: now.
			c.flushNowLocked()
		case c.out.waiting && c.out.dueLazy && c.out.eager:
			// It waits for LazyDelay, and something that may not wait
			// that long came: the write delay at most, taking it along.
			c.startWriteLocked()
		}
		return
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// startWriteLocked has the queue flushed now, or after the write delay.
func (c *Conn) startWriteLocked() {
	wait := c.writeWaitLocked()
	if wait <= 0 {
		c.flushNowLocked()
		return
	}
	c.out.dueLazy = !c.out.eager
	c.out.waiting = true
	c.out.ticket++
	c.srv.flusher.at(flushEntry{c, c.out.ticket}, time.Now().Add(wait))
}

// flushNowLocked has the queue flushed as soon as a flushing goroutine
// is free; an entry still waiting in a slot goes stale.
func (c *Conn) flushNowLocked() {
	c.out.waiting = false
	c.out.ticket++
	c.srv.flusher.now(flushEntry{c, c.out.ticket}, c.out.immediate)
}

// writeWaitLocked is how long the next write waits: nothing once closed
// (what is left goes at once), else what the outbox says.
func (c *Conn) writeWaitLocked() time.Duration {
	if c.closed {
		return 0
	}
	return c.out.wait(time.Now(), c.srv.opts.LazyDelay)
}

// flush is a flushing goroutine's turn at the connection: everything
// queued in one write that does not block. What the socket does not take
// at once is written by a goroutine of the connection's own.
func (c *Conn) flush(ticket uint64) {
	c.mu.Lock()
	if ticket != c.out.ticket {
		c.mu.Unlock()
		return // rescheduled since: the current entry flushes
	}
	c.out.waiting = false
	t := c.ws
	frames := c.takeLocked(t)
	c.mu.Unlock()
	if frames == nil {
		return
	}
	w := encodeFrames(frames)
	done, err := w.writeNow(t.conn)
	switch {
	case err != nil:
		w.release()
		c.writeFailed(t)
	case done:
		w.release()
		c.written(t, frames)
	default:
		go c.writeRest(t, frames, w)
	}
}

// writeRest writes what the socket did not take at once, waiting for it
// up to writeTimeout.
func (c *Conn) writeRest(t *wsTransport, frames []frame, w *flush) {
	err := w.write(t.conn)
	w.release()
	if err != nil {
		c.writeFailed(t)
		return
	}
	c.written(t, frames)
}

// takeLocked takes the queue for one write. When it is empty the writing
// ends, with the close frame when the connection is closing; it returns
// nil then.
func (c *Conn) takeLocked(t *wsTransport) []frame {
	if len(c.out.frames) == 0 {
		c.out.writing = false
		if t.closing {
			go t.sendClose(t.closeBody)
		}
		return nil
	}
	frames := c.out.take()
	c.out.adapt(len(frames), time.Now(), c.srv.opts.WriteDelay, c.srv.opts.MaxWriteDelay)
	return frames
}

// written goes on after frames were written: the writing ends when
// nothing more came meanwhile, else the rest is flushed when due.
func (c *Conn) written(t *wsTransport, frames []frame) {
	c.sentWebSocket(frames)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.out.frames) > 0 {
		c.startWriteLocked()
		return
	}
	if !c.closed {
		c.out.recycle(frames)
	}
	c.takeLocked(t) // ends the writing, and closes when closing
}

// writeFailed ends a connection whose write failed: the peer is gone.
func (c *Conn) writeFailed(t *wsTransport) {
	c.mu.Lock()
	c.out.writing = false
	c.mu.Unlock()
	c.abort(ReasonTransportError)
	t.conn.Close()
}

// sendClose writes the close frame (body nil: a normal closure) and ends
// the socket.
func (t *wsTransport) sendClose(body []byte) {
	writeFrames(t.conn, []frame{{typ: ctrlClose, data: body}})
	t.closeAfterWrite(body != nil)
}
