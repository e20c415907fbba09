package engineio

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/globalchat/globalchat/internal/testwait"
)

// A drain spreads its closes over the window: the k-th connection to
// close (of n) closes no sooner than k*window/n after the start, and all
// are closed soon after the window. New sessions are refused meanwhile,
// with a 503 a proxy passes to another instance, while open ones still
// work until their turn.
func TestDrainSpreadsTheClosesOverTheWindow(t *testing.T) {
	h := newHarness(t, Options{})
	const n = 10
	const window = time.Second
	var recs []*recorder
	for range n - 1 {
		_, _, r := h.mustDial()
		recs = append(recs, r)
	}
	sid, rp := h.handshake()
	recs = append(recs, rp)
	ctx, cancel := context.WithTimeout(context.Background(), window+waitFor)
	defer cancel()
	start := time.Now()
	drained := make(chan error, 1)
	go func() { drained <- h.srv.Drain(ctx, window) }()
	testwait.For(t, "handshakes refused", func() bool { return h.srv.refusing() })
	res := h.get("")
	expectError(t, res, http.StatusServiceUnavailable, errBadRequest)
	if res.body != `{"code":3,"message":"Server shutting down"}` {
		t.Errorf("handshake while draining: %s", res.body)
	}
	// The polling session answers until it is closed: a ping is
	// answered, or the close packet comes.
	if rp.closedAt.Load() == nil {
		if res := h.post(sid, "2"); res.status != http.StatusOK {
			t.Errorf("POST of an open session while draining: %d %s", res.status, res.body)
		}
	}
	if err := <-drained; err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if took < window*(n-1)/n || took > window+waitFor/2 {
		t.Errorf("drain took %v for a %v window", took, window)
	}
	var at []time.Duration
	for _, r := range recs {
		r.closedWith(t, ReasonServerShutdown)
		at = append(at, r.closedAt.Load().Sub(start))
	}
	slices.Sort(at)
	for k, d := range at {
		if earliest := window * time.Duration(k) / n; d < earliest {
			t.Errorf("close %d of %d at %v, before its turn at %v (all: %v)", k, n, d, earliest, at)
		}
	}
	// The polling client gets its close packet at its next poll, and
	// the session goes with it.
	for i := 0; ; i++ {
		res := h.get(sid)
		if res.status != http.StatusOK || i == 3 {
			t.Fatalf("polling client after the drain: %d %q, no close packet", res.status, res.body)
		}
		if res.body == "1" {
			break
		}
	}
	testwait.For(t, "no connection left", func() bool { return h.srv.Len() == 0 })
}

// The message a connection is handling when its turn comes is answered
// before the close: the answer, then the close, reach the client.
func TestDrainAnswersTheMessageInFlight(t *testing.T) {
	h := newHarness(t, Options{})
	c, _, r := h.mustDial()
	entered, release := make(chan struct{}), make(chan struct{})
	handle := func(data []byte) {
		close(entered)
		<-release
		r.conn.Send(Message{Data: append([]byte("answer to "), data...)})
	}
	r.handle.Store(&handle)
	c.Send("4question")
	select {
	case <-entered:
	case <-time.After(waitFor):
		t.Fatal("message not handled")
	}
	drained := make(chan error, 1)
	go func() { drained <- h.srv.Drain(context.Background(), 0) }()
	time.Sleep(100 * time.Millisecond)
	r.stillOpen(t) // the drain waits for the handler
	close(release)
	c.Expect("4answer to question")
	c.ExpectClosed(nil)
	r.closedWith(t, ReasonServerShutdown)
	if err := <-drained; err != nil {
		t.Fatal(err)
	}
}
