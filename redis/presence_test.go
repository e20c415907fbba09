package redis

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/globalchat/globalchat"
	"github.com/globalchat/globalchat/internal/testenv"
)

type leftLog struct {
	mu    sync.Mutex
	users []string
}

func (l *leftLog) record(u globalchat.User, count int) {
	l.mu.Lock()
	l.users = append(l.users, fmt.Sprintf("%s(%s) count=%d", u.ID, u.Name, count))
	l.mu.Unlock()
}

func (l *leftLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := append([]string(nil), l.users...)
	sort.Strings(out)
	return out
}

func fastPresence(t testing.TB, srv *testenv.RedisServer, id string, onLeft func(globalchat.User, int)) *Presence {
	p := NewPresence(client(t, srv), PresenceOptions{
		InstanceID: id, Heartbeat: 50 * time.Millisecond, DeadAfter: 300 * time.Millisecond,
		OnLeft: onLeft, Logger: testLogger(t),
	})
	if err := p.Start(ctxT(t)); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return p
}

// halt stops the heartbeat without removing anything: the instance died.
func (p *Presence) halt() {
	p.mu.Lock()
	cancel, done := p.cancel, p.done
	p.closed = true
	p.mu.Unlock()
	cancel()
	<-done
}

// TestReaperRemovesDeadInstance kills instance A (its heartbeat stops, its
// keys stay): B reaps A's sockets within DeadAfter plus a heartbeat, and
// reports the users who left, but not those still online on B.
func TestReaperRemovesDeadInstance(t *testing.T) {
	srv := testenv.Redis(t)
	left := &leftLog{}
	a := fastPresence(t, srv, "a", func(globalchat.User, int) { t.Error("A reported a user after it died") })
	b := fastPresence(t, srv, "b", left.record)
	defer b.Close()
	ctx := ctxT(t)
	conns := []struct {
		p    *Presence
		sid  string
		user string
	}{{a, "a1", "u1"}, {a, "a2", "u1"}, {a, "a3", "u2"}, {b, "b1", "u2"}, {a, "a4", "u3"}}
	for _, c := range conns {
		if _, _, err := c.p.Add(ctx, globalchat.Conn{SocketID: c.sid, User: globalchat.User{ID: c.user, Name: "n" + c.user}}); err != nil {
			t.Fatal(err)
		}
	}
	a.halt()
	killed := time.Now()
	deadline := killed.Add(2 * time.Second)
	for {
		count, users, err := b.Online(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		if count == 1 {
			if len(users) != 1 || users[0].ID != "u2" {
				t.Fatalf("online after reaping: %v, want [u2]", users)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d users still online %v after A died", count, time.Since(killed))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if took := time.Since(killed); took > 300*time.Millisecond+2*50*time.Millisecond+200*time.Millisecond {
		t.Errorf("reaping took %v, want about DeadAfter + Heartbeat", took)
	}
	time.Sleep(100 * time.Millisecond)
	got := fmt.Sprint(left.get())
	if want := "[u1(nu1) count=2 u3(nu3) count=1]"; got != want && got != "[u1(nu1) count=1 u3(nu3) count=2]" {
		t.Fatalf("OnLeft calls %s, want u1 and u3 once each", got)
	}
	c := b.client
	for _, k := range []string{keyInstance("a"), keyInstanceSockets("a"), keyUserSocket("a1"), keyUserOnline("u1")} {
		if n, _ := c.Exists(ctx, k).Result(); n != 0 {
			t.Errorf("key %s left after reaping", k)
		}
	}
	if _, err := c.ZScore(ctx, keyInstances, "a").Result(); err == nil {
		t.Error("dead instance still listed")
	}
	// B's user is untouched, with its socket.
	if d, err := b.Remove(ctx, "b1"); err != nil || !d.Known || !d.Last || d.User.ID != "u2" {
		t.Fatalf("Remove(b1) = %+v, %v", d, err)
	}
}

// TestReaperSparesARecoveredSocket: a client of instance A recovers on B
// with the same socket id before A is found dead; reaping A must not take
// the socket, nor the user, from B.
func TestReaperSparesARecoveredSocket(t *testing.T) {
	srv := testenv.Redis(t)
	a := fastPresence(t, srv, "a", nil)
	b := fastPresence(t, srv, "b", func(u globalchat.User, _ int) { t.Errorf("%s reported as left", u.ID) })
	defer b.Close()
	ctx := ctxT(t)
	conn := globalchat.Conn{SocketID: "s1", User: globalchat.User{ID: "u1", Name: "Ann"}}
	if _, _, err := a.Add(ctx, conn); err != nil {
		t.Fatal(err)
	}
	a.halt()
	if _, _, err := b.Add(ctx, conn); err != nil {
		t.Fatal(err)
	}
	time.Sleep(600 * time.Millisecond) // A is reaped meanwhile
	if _, err := b.client.ZScore(ctx, keyInstances, "a").Result(); err == nil {
		t.Fatal("A was not reaped")
	}
	if count, users, err := b.Online(ctx, 10); err != nil || count != 1 || users[0].ID != "u1" {
		t.Fatalf("online = %d %v %v, want u1", count, users, err)
	}
	if d, err := b.Remove(ctx, "s1"); err != nil || !d.Known || !d.Last || d.User.ID != "u1" {
		t.Fatalf("Remove on B = %+v %v", d, err)
	}
}

// closingPair returns instance a, whose departures are logged, and b,
// which stays, on one Redis.
func closingPair(t *testing.T) (a, b *Presence, left *leftLog) {
	srv := testenv.Redis(t)
	left = &leftLog{}
	a = fastPresence(t, srv, "a", left.record)
	b = fastPresence(t, srv, "b", nil)
	t.Cleanup(func() { b.Close() })
	return a, b, left
}

// TestCloseRemovesOwnSockets shows a graceful stop: the users of the
// instance leave at once, reported through OnLeft.
func TestCloseRemovesOwnSockets(t *testing.T) {
	a, b, left := closingPair(t)
	ctx := ctxT(t)
	a.Add(ctx, globalchat.Conn{SocketID: "a1", User: globalchat.User{ID: "u1", Name: "one"}})
	a.Add(ctx, globalchat.Conn{SocketID: "a2", User: globalchat.User{ID: "u2", Name: "two"}})
	b.Add(ctx, globalchat.Conn{SocketID: "b1", User: globalchat.User{ID: "u2", Name: "two"}})
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(left.get()); got != "[u1(one) count=1]" {
		t.Fatalf("OnLeft calls %s", got)
	}
	if count, users, err := b.Online(ctx, 10); err != nil || count != 1 || users[0].ID != "u2" {
		t.Fatalf("Online = %d, %v, %v", count, users, err)
	}
	if n, _ := b.client.Exists(ctx, keyInstanceSockets("a"), keyInstance("a")).Result(); n != 0 {
		t.Fatalf("instance keys left after Close")
	}
}

// TestCloseSparesSocketsThatMoved: at a drain, a socket kept in presence
// for its leave grace may already be back, with the same id, on another
// instance; Close removes the rest of its many sockets and leaves that
// one to its new instance.
func TestCloseSparesSocketsThatMoved(t *testing.T) {
	a, b, left := closingPair(t)
	ctx := ctxT(t)
	const n = 1000
	for i := range n {
		c := globalchat.Conn{SocketID: fmt.Sprint("s", i), User: globalchat.User{ID: fmt.Sprint("u", i), Name: "x"}}
		if _, _, err := a.Add(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	moved := globalchat.Conn{SocketID: "s7", User: globalchat.User{ID: "u7", Name: "x"}}
	if first, _, err := b.Add(ctx, moved); err != nil || first {
		t.Fatalf("the moved socket's Add: first %v, %v", first, err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	got := left.get()
	if len(got) != n-1 || slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, "u7(") }) {
		t.Fatalf("%d users reported gone (want %d, u7 not among them)", len(got), n-1)
	}
	if count, users, err := b.Online(ctx, 10); err != nil || count != 1 || users[0].ID != "u7" {
		t.Fatalf("Online = %d, %v, %v; want u7 alone", count, users, err)
	}
}

// TestPresenceAfterRedisRestart: Redis comes back empty; the instance
// notices at its next heartbeat and registers its sockets again.
func TestPresenceAfterRedisRestart(t *testing.T) {
	srv := testenv.Redis(t)
	a := fastPresence(t, srv, "a", nil)
	defer a.Close()
	ctx := ctxT(t)
	if _, _, err := a.Add(ctx, globalchat.Conn{SocketID: "a1", User: globalchat.User{ID: "u1", Name: "one"}}); err != nil {
		t.Fatal(err)
	}
	srv.Restart()
	deadline := time.Now().Add(5 * time.Second)
	for {
		count, _, err := a.Online(ctx, 10)
		if err == nil && count == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Online after restart = %d, %v; want 1", count, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if ttl := keyTTL(t, a.client, keyUserSocket("a1")); ttl <= 0 {
		t.Fatalf("socket key TTL %v after re-registering", ttl)
	}
}

// TestSweepRemovesExpiredUsers: a user whose socket keys expired (every
// instance was gone longer than the TTL) is removed by the sweep and
// reported.
func TestSweepRemovesExpiredUsers(t *testing.T) {
	srv := testenv.Redis(t)
	ctx := ctxT(t)
	old := NewPresence(client(t, srv), PresenceOptions{InstanceID: "old"})
	old.Add(ctx, globalchat.Conn{SocketID: "s1", User: globalchat.User{ID: "u1", Name: "one"}})
	old.client.Del(ctx, keyUserSocket("s1"), keyInstanceSockets("old")) // as if expired
	left := &leftLog{}
	p := fastPresence(t, srv, "new", left.record)
	defer p.Close()
	deadline := time.Now().Add(3 * time.Second)
	for len(left.get()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := fmt.Sprint(left.get()); got != "[u1(one) count=0]" {
		t.Fatalf("OnLeft calls %s", got)
	}
	if n, _ := p.client.ZCard(ctx, keyOnlineNames).Result(); n != 0 {
		t.Fatalf("name index holds %d entries", n)
	}
}

// TestSweepPrunesPagesAtOnce: the sweep goes through more users than a
// page, pipelined, with Redis having forgotten its scripts (NOSCRIPT):
// the users whose socket keys all expired leave, the expired socket of a
// user who keeps another one goes, and nobody else is touched.
func TestSweepPrunesPagesAtOnce(t *testing.T) {
	srv := testenv.Redis(t)
	ctx := ctxT(t)
	old := NewPresence(client(t, srv), PresenceOptions{InstanceID: "old"})
	const users = 450
	for i := range users {
		u := globalchat.User{ID: fmt.Sprintf("u%d", i), Name: fmt.Sprintf("n%d", i)}
		for _, sid := range []string{"a" + u.ID, "b" + u.ID} {
			if _, _, err := old.Add(ctx, globalchat.Conn{SocketID: sid, User: u}); err != nil {
				t.Fatal(err)
			}
		}
	}
	var want []string
	for i := range 20 { // as if expired: both sockets of u0-u9, one of u10-u19
		id := fmt.Sprintf("u%d", i)
		old.client.Del(ctx, keyUserSocket("b"+id))
		if i < 10 {
			old.client.Del(ctx, keyUserSocket("a"+id))
			want = append(want, id)
		}
	}
	if err := old.client.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	left := &leftLog{}
	p := fastPresence(t, srv, "new", left.record)
	defer p.Close()
	deadline := time.Now().Add(3 * time.Second)
	for len(left.get()) < len(want) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	var got []string
	for _, l := range left.get() {
		id, _, _ := strings.Cut(l, "(")
		got = append(got, id)
	}
	sort.Strings(want)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("left %v, want %v", got, want)
	}
	if count, _, err := p.Online(ctx, 1); err != nil || count != users-len(want) {
		t.Fatalf("Online = %d, %v; want %d", count, err, users-len(want))
	}
	for id, n := range map[string]int64{"u10": 1, "u19": 1, "u20": 2, "u449": 2} {
		if got, _ := p.client.SCard(ctx, keyUserSockets(id)).Result(); got != n {
			t.Errorf("%s has %d sockets, want %d", id, got, n)
		}
	}
}

// TestFlushNoticedWithinASecond: with the default 10 s heartbeat, a Redis
// that lost its data (FLUSHALL) is noticed by the canary within about a
// second: the sockets are registered again and OnLost runs (the chat
// then writes the recovery sessions again).
func TestFlushNoticedWithinASecond(t *testing.T) {
	srv := testenv.Redis(t)
	lost := make(chan struct{}, 1)
	p := NewPresence(client(t, srv), PresenceOptions{InstanceID: "a", Logger: testLogger(t),
		OnLost: func() { lost <- struct{}{} }})
	if err := p.Start(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, _, err := p.Add(ctxT(t), globalchat.Conn{SocketID: "a1", User: globalchat.User{ID: "u1", Name: "one"}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(600 * time.Millisecond) // the first canary finds the key
	if err := client(t, srv).FlushAll(ctxT(t)).Err(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-lost:
	case <-time.After(2 * time.Second):
		t.Fatal("the flush went unnoticed for 2 s")
	}
	if count, _, err := p.Online(ctxT(t), 10); err != nil || count != 1 {
		t.Fatalf("Online after the flush = %d, %v; want 1", count, err)
	}
}
