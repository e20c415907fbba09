// Package typingtest is the test suite every globalchat.Typing
// implementation passes: the in-memory one and the Redis one run the same
// tests.
package typingtest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/globalchat/globalchat"
)

// Factory returns fresh Typings that share one view of who types: one for
// a single instance, several (one per instance) for a shared backend.
type Factory func(t testing.TB) []globalchat.Typing

// Run runs the suite.
func Run(t *testing.T, newTyping Factory) {
	t.Run("ListedUntilTheirTime", func(t *testing.T) { testExpiry(t, newTyping) })
	t.Run("NameOrderCappedCounted", func(t *testing.T) { testOrder(t, newTyping) })
	t.Run("Cleared", func(t *testing.T) { testClear(t, newTyping) })
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func user(name string) globalchat.User { return globalchat.User{ID: "id-" + name, Name: name} }

// list reads ty's list at now, failing the test on error.
func list(t *testing.T, ty globalchat.Typing, now time.Time, limit int) ([]string, int) {
	t.Helper()
	users, n, err := ty.List(ctxT(t), now, limit)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	var names []string
	for _, u := range users {
		names = append(names, u.Name)
	}
	return names, n
}

func set(t *testing.T, ty globalchat.Typing, u globalchat.User, until time.Time) {
	t.Helper()
	if err := ty.Set(ctxT(t), u, until); err != nil {
		t.Fatalf("Set: %v", err)
	}
}

// An entry is listed, by every instance, until its time; set again, it
// lives on.
func testExpiry(t *testing.T, newTyping Factory) {
	ts := newTyping(t)
	now := time.Now()
	set(t, ts[0], user("ann"), now.Add(3*time.Second))
	set(t, ts[len(ts)-1], user("bob"), now.Add(time.Second))
	for i, ty := range ts {
		if names, n := list(t, ty, now, 10); !slices.Equal(names, []string{"ann", "bob"}) || n != 2 {
			t.Fatalf("instance %d lists %v (%d), want ann and bob", i, names, n)
		}
	}
	set(t, ts[0], user("bob"), now.Add(5*time.Second))
	if names, _ := list(t, ts[0], now.Add(4*time.Second), 10); !slices.Equal(names, []string{"bob"}) {
		t.Fatalf("4 s later: %v, want bob (set again), not ann (expired)", names)
	}
	if names, n := list(t, ts[0], now.Add(5*time.Second), 10); len(names) != 0 || n != 0 {
		t.Fatalf("at bob's time: %v (%d), want nobody", names, n)
	}
}

// The list is in name order and capped; the count says how many in all.
func testOrder(t *testing.T, newTyping Factory) {
	ts := newTyping(t)
	now := time.Now()
	for i, name := range []string{"eve", "bob", "dan", "ann", "cat"} {
		set(t, ts[i%len(ts)], user(name), now.Add(time.Duration(i+1)*time.Second))
	}
	if names, n := list(t, ts[0], now, 3); !slices.Equal(names, []string{"ann", "bob", "cat"}) || n != 5 {
		t.Fatalf("listed %v of %d, want ann bob cat of 5", names, n)
	}
}

// A user cleared (their message accepted) leaves the list at once.
func testClear(t *testing.T, newTyping Factory) {
	ts := newTyping(t)
	now := time.Now()
	for _, name := range []string{"ann", "bob"} {
		set(t, ts[0], user(name), now.Add(3*time.Second))
	}
	if err := ts[len(ts)-1].Clear(ctxT(t), user("ann")); err != nil {
		t.Fatalf("Clear: %v", err)
	}
	if names, n := list(t, ts[0], now, 10); !slices.Equal(names, []string{"bob"}) || n != 1 {
		t.Fatalf("after clearing ann: %v (%d), want bob", names, n)
	}
}
