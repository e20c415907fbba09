package engineio

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// gatedReceiver hands each message to a test that decides when its
// handling ends.
type gatedReceiver struct{ got chan chan struct{} }

func (g gatedReceiver) OnMessage([]byte, bool) {
	done := make(chan struct{})
	g.got <- done
	<-done
}

func (gatedReceiver) OnClose(Reason) {}

// openingServer is a server that lets one connection be opened at a
// time, and a polling client of it.
func openingServer(t *testing.T) (get func() (int, string), post func(sid string), got chan chan struct{}) {
	t.Helper()
	got = make(chan chan struct{}, 8)
	srv := NewServer(Options{MaxOpening: 1, OpeningWait: 300 * time.Millisecond}, func(*Conn) Receiver {
		return gatedReceiver{got}
	})
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		srv.Shutdown(ctx)
		ts.Close()
	})
	client := &http.Client{Timeout: waitFor}
	url := ts.URL + "/engine.io/?EIO=4&transport=polling"
	get = func() (int, string) {
		res, err := client.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	post = func(sid string) {
		res, err := client.Post(url+"&sid="+sid, "text/plain;charset=UTF-8", strings.NewReader("4hello"))
		if err == nil {
			res.Body.Close()
		}
	}
	return get, post, got
}

func TestMaxOpeningHoldsHandshakesWhileAFirstMessageIsHandled(t *testing.T) {
	get, post, got := openingServer(t)
	status, body := get()
	if status != http.StatusOK {
		t.Fatalf("first handshake: %d %s", status, body)
	}
	// The handshake is over, so its slot is free again; the first message
	// (the Socket.IO CONNECT) takes it while it is handled.
	go post(parseOpen(t, body).SID)
	var handled chan struct{}
	select {
	case handled = <-got:
	case <-time.After(waitFor):
		t.Fatal("first message not delivered")
	}
	status, body = get()
	if status != http.StatusServiceUnavailable || !strings.Contains(body, "Server busy") {
		t.Fatalf("handshake while the one slot is taken: %d %s, want 503 Server busy", status, body)
	}
	close(handled)
	if status, body = get(); status != http.StatusOK {
		t.Fatalf("handshake once the first message was handled: %d %s", status, body)
	}
}

func TestMaxOpeningLetsLaterMessagesThrough(t *testing.T) {
	get, post, got := openingServer(t)
	_, a := get()
	sidA := parseOpen(t, a).SID
	posted := make(chan struct{})
	go func() { post(sidA); close(posted) }()
	close(<-got) // A's first message handled at once
	<-posted     // and its POST answered: the next may come
	_, b := get()
	go post(parseOpen(t, b).SID)
	heldByB := <-got // B's first message holds the slot
	defer close(heldByB)
	// A is open: its next message needs no slot.
	go post(sidA)
	select {
	case done := <-got:
		close(done)
	case <-time.After(waitFor):
		t.Fatal("a later message waited for the opening of another connection")
	}
}

func TestAdmissionWaitEnds(t *testing.T) {
	a := newAdmission(1, time.Hour, time.Hour)
	leave := a.enter(nil, true)
	if leave == nil {
		t.Fatal("a free slot was refused")
	}
	done := make(chan struct{})
	close(done)
	if a.enter(done, true) != nil {
		t.Fatal("entered a full admission")
	}
	leave()
	leave() // a second call gives back nothing more
	second := a.enter(done, true)
	if second == nil {
		t.Fatal("the slot given back was refused")
	}
	if a.enter(done, true) != nil {
		t.Fatal("a slot was given back twice")
	}
	second()
	var none *admission // no bound
	if leave := none.enter(done, true); leave == nil {
		t.Fatal("no bound refused")
	} else {
		leave()
	}
}

// A slot held past the hold is given back: openings stuck on a hung
// dependency do not hold back the clients behind them.
func TestAdmissionHoldEnds(t *testing.T) {
	a := newAdmission(1, waitFor, 50*time.Millisecond)
	stuck := a.enter(nil, true)
	start := time.Now()
	next := a.enter(nil, true)
	if next == nil {
		t.Fatal("no slot after the hold")
	}
	if waited := time.Since(start); waited < 40*time.Millisecond {
		t.Fatalf("entered after %v, before the hold was over", waited)
	}
	stuck() // late: must not give back the slot next holds
	done := make(chan struct{})
	close(done)
	if a.enter(done, true) != nil {
		t.Fatal("a late leave gave back a slot still held")
	}
	next()
}
