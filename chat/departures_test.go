package chat

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/globalchat/globalchat/internal/testwait"
)

func TestDeparturesWithoutGraceLeaveAtOnce(t *testing.T) {
	d := newDepartures(0)
	var left atomic.Int64
	d.after("s1", func() { left.Add(1) })
	if left.Load() != 1 || d.len() != 0 {
		t.Fatalf("left %d times, %d pending; want at once", left.Load(), d.len())
	}
}

// The graces here are long enough that a slow machine cannot let one
// pass between two steps a test expects within it.
const testGrace = 200 * time.Millisecond

func TestDeparturesLeaveAfterTheGrace(t *testing.T) {
	d := newDepartures(testGrace)
	var at atomic.Int64
	start := time.Now()
	d.after("s1", func() { at.Store(int64(time.Since(start))) })
	if d.len() != 1 {
		t.Fatalf("%d pending, want 1", d.len())
	}
	testwait.For(t, "the leave", func() bool { return at.Load() != 0 && d.len() == 0 })
	if took := time.Duration(at.Load()); took < testGrace {
		t.Fatalf("left after %v, before the grace", took)
	}
	if d.back("s1") {
		t.Fatal("back after the leave reported a pending leave")
	}
}

func TestDeparturesBackCancelsTheLeave(t *testing.T) {
	d := newDepartures(testGrace)
	var left atomic.Int64
	d.after("s1", func() { left.Add(1) })
	d.after("s2", func() { left.Add(10) })
	if !d.back("s1") {
		t.Fatal("back found no pending leave")
	}
	testwait.For(t, "s2's leave", func() bool { return left.Load() >= 10 })
	time.Sleep(testGrace / 2)
	if left.Load() != 10 {
		t.Fatalf("leaves ran: %d, want s2's alone", left.Load())
	}
}

// A connection back while its leave runs waits for the leave to end, so
// that its Presence.Add follows the Remove rather than being undone by it.
func TestDeparturesBackWaitsForARunningLeave(t *testing.T) {
	d := newDepartures(time.Millisecond)
	running, release := make(chan struct{}), make(chan struct{})
	var done atomic.Bool
	d.after("s1", func() {
		close(running)
		<-release
		done.Store(true)
	})
	<-running
	go func() {
		time.Sleep(20 * time.Millisecond)
		close(release)
	}()
	if d.back("s1") {
		t.Fatal("back cancelled a leave that had started")
	}
	if !done.Load() {
		t.Fatal("back returned before the running leave ended")
	}
}

// A socket dropped again replaces its pending leave: one leave runs.
func TestDeparturesDroppedTwiceLeavesOnce(t *testing.T) {
	d := newDepartures(testGrace)
	var left atomic.Int64
	d.after("s1", func() { left.Add(1) })
	d.after("s1", func() { left.Add(1) })
	testwait.For(t, "the leave", func() bool { return left.Load() == 1 && d.len() == 0 })
	time.Sleep(testGrace)
	if left.Load() != 1 {
		t.Fatalf("%d leaves, want 1", left.Load())
	}
}

func TestDeparturesCloseDropsThePending(t *testing.T) {
	d := newDepartures(testGrace)
	var left atomic.Int64
	d.after("s1", func() { left.Add(1) })
	d.close()
	d.after("s2", func() { left.Add(1) })
	time.Sleep(2 * testGrace)
	if left.Load() != 0 || d.len() != 0 {
		t.Fatalf("%d leaves ran and %d pending after close", left.Load(), d.len())
	}
}

// A leave that failed is tried again no sooner than a second, even
// without a grace.
func TestDeparturesRetryWaitsASecond(t *testing.T) {
	d := newDepartures(0)
	start := time.Now()
	var at atomic.Int64
	d.retry("s1", func() { at.Store(int64(time.Since(start))) })
	testwait.For(t, "the retry", func() bool { return at.Load() != 0 })
	if took := time.Duration(at.Load()); took < minRetry {
		t.Fatalf("retried after %v, before %v", took, minRetry)
	}
}
