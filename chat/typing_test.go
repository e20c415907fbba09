package chat

import (
	"slices"
	"testing"
	"time"

	"github.com/globalchat/globalchat/socketio/sockettest"
)

// typingOf takes the next chat:typing c received.
func typingOf(t *testing.T, c *sockettest.Client) typingPayload {
	t.Helper()
	var p typingPayload
	c.Expect(EventTyping).Decode(t, 0, &p)
	return p
}

func typingNames(p typingPayload) []string {
	var names []string
	for _, u := range p.Users {
		names = append(names, u.Name)
	}
	return names
}

// Typing: a burst of chat:typing (one per keystroke) becomes one list a
// second for the room, never an event per keystroke; the list names who
// types, in name order; a user whose message is accepted, or who stops
// for longer than typingTTL, leaves it, and an empty room hears nothing.
func TestTyping(t *testing.T) {
	e := newEnv(t, envOptions{})
	ann, _ := e.guest("ann")
	bob, _ := e.guest("bob")
	for range 30 {
		ann.Emit(EventTyping)
		bob.Emit(EventTyping)
	}
	first := typingOf(t, ann)
	if got := typingNames(first); !slices.Equal(got, []string{"ann", "bob"}) || first.Count != 2 {
		t.Fatalf("typing %+v, want ann and bob", first)
	}
	// 60 chat:typing in a burst: at most one list an interval, not 60.
	time.Sleep(typingInterval + typingInterval/2)
	n := 0
	for _, name := range ann.Pending() {
		if name == EventTyping {
			n++
		}
	}
	if n > 2 {
		t.Fatalf("%d chat:typing within 1.5 intervals after the first", n)
	}

	// Both type on; ann sends: she is no longer typing (though her
	// entry had 3 s to live), bob still is.
	for slices.Contains(ann.Pending(), EventTyping) {
		typingOf(t, ann)
	}
	bob.Emit(EventTyping)
	ann.Emit(EventTyping)
	say(t, ann, "done")
	bob.Expect(EventMessage)
	deadline := time.Now().Add(typingTTL + 2*typingInterval)
	for {
		p := typingOf(t, bob)
		if slices.Equal(typingNames(p), []string{"bob"}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ann still typing after her message: %+v", p)
		}
	}

	// Nobody types: the lists stop once bob's entry expires.
	time.Sleep(typingTTL + 2*typingInterval)
	for slices.Contains(bob.Pending(), EventTyping) {
		typingOf(t, bob)
	}
	time.Sleep(2 * typingInterval)
	if p := bob.Pending(); slices.Contains(p, EventTyping) {
		t.Fatalf("chat:typing still sent with nobody typing: %v", p)
	}
}
