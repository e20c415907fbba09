package engineio

import (
	"testing"
	"time"
)

// The queue counts what it holds against the bounds, remembers that an
// Immediate message waits, and hands everything over at once.
func TestOutboxQueue(t *testing.T) {
	var o outbox
	f := frame{typ: typeMessage, data: []byte("hello")}
	if !o.fits(2, 2*f.size(), 2, 100) || o.fits(3, 3*f.size(), 2, 100) || o.fits(1, 101, 2, 100) {
		t.Fatal("bounds misjudged")
	}
	o.push(Batched, 2*f.size(), f, f)
	if o.immediate || len(o.frames) != 2 || o.bytes != 2*f.size() {
		t.Fatalf("after two batched: %+v", o)
	}
	if o.fits(1, f.size(), 2, 100) {
		t.Fatal("a third frame fits under a bound of two")
	}
	o.push(Immediate, f.size(), f)
	if !o.immediate {
		t.Fatal("an Immediate message not remembered")
	}
	if got := o.take(); len(got) != 3 || o.frames != nil || o.bytes != 0 || o.immediate {
		t.Fatalf("take: %d frames, left %+v", len(got), o)
	}
}

// A small written array is kept for the next queue, its payloads let go;
// a large one, or one when something was queued meanwhile, is not.
func TestOutboxRecycle(t *testing.T) {
	var o outbox
	small := make([]frame, 2, maxSpare)
	small[0].data = []byte("kept alive?")
	o.recycle(small)
	if cap(o.frames) != maxSpare || len(o.frames) != 0 || small[0].data != nil {
		t.Fatalf("small array: %d/%d, payload %q", len(o.frames), cap(o.frames), small[0].data)
	}
	var p outbox
	p.recycle(make([]frame, 1, maxSpare+1))
	if p.frames != nil {
		t.Fatal("a large array kept on an idle connection")
	}
	p.push(Batched, 1, frame{})
	queued := p.frames
	p.recycle(make([]frame, 1, 2))
	if &p.frames[0] != &queued[0] {
		t.Fatal("a recycled array replaced the queue")
	}
}

// The pace: a quiet connection keeps the base delay, a fast one waits
// longer, up to the ceiling; an Immediate message never waits; a first
// write never waits.
func TestOutboxPace(t *testing.T) {
	const base, ceiling = 5 * time.Millisecond, 50 * time.Millisecond
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	feed := func(perSecond int, writes int) *outbox {
		o := &outbox{delay: base}
		now := start
		for range writes {
			o.adapt(perSecond/10, now, base, ceiling) // a write every 100 ms
			now = now.Add(100 * time.Millisecond)
		}
		return o
	}
	if o := (&outbox{delay: base}); o.wait(start, time.Second) != 0 {
		t.Fatal("a connection never written waits")
	}
	if o := feed(10, 20); o.delay != base {
		t.Fatalf("10 frames/s: delay %v, want the base %v", o.delay, base)
	}
	o := feed(100, 40)
	if o.delay < 33*time.Millisecond || o.delay > 36*time.Millisecond {
		t.Fatalf("100 frames/s: delay %v, want about 35ms", o.delay)
	}
	if o := feed(1000, 40); o.delay != ceiling {
		t.Fatalf("1000 frames/s: delay %v, want the ceiling %v", o.delay, ceiling)
	}
	last := o.lastWrite
	if w := o.wait(last.Add(10*time.Millisecond), time.Second); w != o.delay-10*time.Millisecond {
		t.Fatalf("10ms after a write: wait %v, want %v", w, o.delay-10*time.Millisecond)
	}
	o.push(Immediate, 1, frame{})
	if w := o.wait(last, time.Second); w != 0 {
		t.Fatalf("an Immediate message waits %v", w)
	}
	off := &outbox{}
	off.adapt(100, start, 0, 0)
	off.adapt(100, start.Add(time.Millisecond), 0, 0)
	if off.delay != 0 || off.wait(start.Add(time.Millisecond), time.Second) != 0 {
		t.Fatal("a delay with WriteDelay off")
	}
}

// A queue of Lazy messages waits the lazy delay; anything else in it
// brings the usual pace back.
func TestOutboxLazy(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	o := &outbox{}
	o.push(Lazy, 1, frame{})
	if w := o.wait(now, time.Second); w != time.Second {
		t.Fatalf("a Lazy message alone waits %v, want the lazy delay", w)
	}
	o.push(Batched, 1, frame{})
	if w := o.wait(now, time.Second); w != 0 {
		t.Fatalf("with a Batched message, on a connection never written: wait %v, want 0", w)
	}
	o.take()
	if o.eager {
		t.Fatal("take kept the queue eager")
	}
}
