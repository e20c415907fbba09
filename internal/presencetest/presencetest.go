// Package presencetest is the test suite every globalchat.Presence
// implementation passes: the in-memory one and the Redis one run the same
// tests.
package presencetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/globalchat/globalchat"
)

// Factory returns fresh Presences that share one view of who is online:
// one for a single instance, several (one per instance) for a shared
// backend. The factory releases them when the test ends.
type Factory func(t testing.TB) []globalchat.Presence

// Run runs the suite.
func Run(t *testing.T, newPresence Factory) {
	t.Run("FirstAndLastAcrossTabs", func(t *testing.T) { testTabs(t, newPresence) })
	t.Run("UnknownSocket", func(t *testing.T) { testUnknown(t, newPresence) })
	t.Run("OnlineSortedAndCapped", func(t *testing.T) { testOnline(t, newPresence) })
	t.Run("Rename", func(t *testing.T) { testRename(t, newPresence) })
	t.Run("ConcurrentFirstLastBalanced", func(t *testing.T) { testConcurrent(t, newPresence) })
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func conn(sid, uid, name string) globalchat.Conn {
	return globalchat.Conn{SocketID: sid, User: globalchat.User{ID: uid, Name: name}}
}

func add(t testing.TB, p globalchat.Presence, c globalchat.Conn, wantFirst bool, wantCount int) {
	t.Helper()
	first, count, err := p.Add(ctxT(t), c)
	if err != nil {
		t.Fatalf("Add(%s): %v", c.SocketID, err)
	}
	if first != wantFirst || count != wantCount {
		t.Fatalf("Add(%s) = first %v, count %d; want %v, %d", c.SocketID, first, count, wantFirst, wantCount)
	}
}

func remove(t testing.TB, p globalchat.Presence, sid string, want globalchat.User, wantLast bool, wantCount int) {
	t.Helper()
	d, err := p.Remove(ctxT(t), sid)
	if err != nil {
		t.Fatalf("Remove(%s): %v", sid, err)
	}
	if wantD := (globalchat.Departure{User: want, Known: true, Last: wantLast, Count: wantCount}); d != wantD {
		t.Fatalf("Remove(%s) = %+v; want %+v", sid, d, wantD)
	}
}

// on picks the presence of instance i, wrapping around.
func on(ps []globalchat.Presence, i int) globalchat.Presence { return ps[i%len(ps)] }

func testTabs(t *testing.T, newPresence Factory) {
	ps := newPresence(t)
	alice := globalchat.User{ID: "u-alice", Name: "alice"}
	bob := globalchat.User{ID: "u-bob", Name: "bob"}
	add(t, on(ps, 0), conn("s1", alice.ID, alice.Name), true, 1)
	add(t, on(ps, 1), conn("s2", alice.ID, alice.Name), false, 1) // second tab, maybe another instance
	add(t, on(ps, 0), conn("s1", alice.ID, alice.Name), false, 1) // same socket again
	add(t, on(ps, 2), conn("s3", bob.ID, bob.Name), true, 2)
	remove(t, on(ps, 0), "s1", alice, false, 2)
	remove(t, on(ps, 1), "s2", alice, true, 1)
	remove(t, on(ps, 2), "s3", bob, true, 0)
	add(t, on(ps, 1), conn("s4", alice.ID, alice.Name), true, 1)
	count, users, err := on(ps, 2).Online(ctxT(t), 10)
	if err != nil || count != 1 || len(users) != 1 || users[0] != alice {
		t.Fatalf("Online = %d, %v, %v; want 1, [alice]", count, users, err)
	}
}

func testUnknown(t *testing.T, newPresence Factory) {
	ps := newPresence(t)
	add(t, ps[0], conn("s1", "u1", "one"), true, 1)
	for _, p := range ps {
		d, err := p.Remove(ctxT(t), "nope")
		if err != nil || d.Known {
			t.Fatalf("Remove(unknown) = %+v, err %v; want not known", d, err)
		}
	}
	remove(t, ps[0], "s1", globalchat.User{ID: "u1", Name: "one"}, true, 0)
	if d, err := ps[0].Remove(ctxT(t), "s1"); err != nil || d.Known {
		t.Fatalf("second Remove = %+v, err %v; want not known", d, err)
	}
}

func testOnline(t *testing.T, newPresence Factory) {
	ps := newPresence(t)
	names := []string{"mallory", "alice", "trent", "bob", "carol", "alice"}
	for i, n := range names {
		uid := fmt.Sprint("u", i)
		add(t, on(ps, i), conn("s"+uid, uid, n), true, i+1)
		add(t, on(ps, i+1), conn("t"+uid, uid, n), false, i+1)
	}
	want := "[{u1 alice} {u5 alice} {u3 bob} {u4 carol}]"
	for _, p := range ps {
		count, users, err := p.Online(ctxT(t), 4)
		if err != nil || count != 6 || fmt.Sprint(users) != want {
			t.Fatalf("Online(4) = %d, %v, %v; want 6, %s", count, users, err, want)
		}
		count, users, err = p.Online(ctxT(t), 0)
		if err != nil || count != 6 || len(users) != 0 {
			t.Fatalf("Online(0) = %d, %v, %v; want 6 and no users", count, users, err)
		}
		if _, users, _ = p.Online(ctxT(t), 100); len(users) != 6 {
			t.Fatalf("Online(100) listed %d users, want 6", len(users))
		}
	}
}

func testRename(t *testing.T, newPresence Factory) {
	ps := newPresence(t)
	add(t, on(ps, 0), conn("s1", "u1", "old"), true, 1)
	add(t, on(ps, 1), conn("s2", "u1", "new"), false, 1)
	_, users, err := on(ps, 0).Online(ctxT(t), 10)
	if err != nil || fmt.Sprint(users) != "[{u1 new}]" {
		t.Fatalf("Online after rename = %v, %v; want [{u1 new}]", users, err)
	}
	remove(t, on(ps, 1), "s2", globalchat.User{ID: "u1", Name: "new"}, false, 1)
	remove(t, on(ps, 0), "s1", globalchat.User{ID: "u1", Name: "new"}, true, 0)
	if count, users, err := on(ps, 0).Online(ctxT(t), 10); err != nil || count != 0 || len(users) != 0 {
		t.Fatalf("Online after all left = %d, %v, %v", count, users, err)
	}
}

// testConcurrent opens and closes tabs of one user on every instance at
// once: whatever the interleaving, each time the user came online it went
// offline once, and it ends offline.
func testConcurrent(t *testing.T, newPresence Factory) {
	ps := newPresence(t)
	var firsts, lasts atomic.Int32
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			p := on(ps, i)
			sid := fmt.Sprint("s", i)
			first, _, err := p.Add(ctxT(t), conn(sid, "u1", "one"))
			if err != nil {
				t.Errorf("Add: %v", err)
				return
			}
			if first {
				firsts.Add(1)
			}
			d, err := p.Remove(ctxT(t), sid)
			if err != nil || !d.Known {
				t.Errorf("Remove: %+v, %v", d, err)
				return
			}
			if d.Last {
				lasts.Add(1)
			}
		})
	}
	wg.Wait()
	if firsts.Load() == 0 || firsts.Load() != lasts.Load() {
		t.Fatalf("%d firsts and %d lasts, want equal and > 0", firsts.Load(), lasts.Load())
	}
	if count, _, err := ps[0].Online(ctxT(t), 10); err != nil || count != 0 {
		t.Fatalf("Online = %d, %v; want 0", count, err)
	}
}
