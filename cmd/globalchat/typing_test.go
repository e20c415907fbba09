package main

import (
	"strings"
	"testing"
	"time"

	"github.com/globalchat/globalchat/internal/testenv"
)

// TestTypingAcrossInstances: the typing indicator is one list for the
// whole cluster. Ann types on one instance, Bob on another; a client of
// either gets, once an interval, one chat:typing naming both (not one
// list per instance, not one event per keystroke).
func TestTypingAcrossInstances(t *testing.T) {
	redis := testenv.Redis(t)
	a := startBinary(t, "REDIS_URL="+redis.URL())
	b := startBinary(t, "REDIS_URL="+redis.URL())
	ann := dialWS(t, a, "127.0.70.1")
	ann.join("ann")
	bob := dialWS(t, b, "127.0.71.1")
	bob.join("bob")
	watcher := dialWS(t, b, "127.0.72.1")
	watcher.join("watcher")

	both := func() bool {
		for range 20 {
			ann.send(`42["chat:typing"]`) // a burst, as keystrokes
			bob.send(`42["chat:typing"]`)
		}
		deadline := time.Now().Add(3 * time.Second)
		for time.Now().Before(deadline) {
			m := watcher.read()
			if strings.HasPrefix(m, `42["chat:typing"`) && strings.Contains(m, `"username":"ann"`) &&
				strings.Contains(m, `"username":"bob"`) && strings.Contains(m, `"count":2`) {
				return true
			}
		}
		return false
	}
	if !both() {
		t.Fatal("no chat:typing naming ann (another instance) and bob within 3 s")
	}
	// Typing on, for 3 s: about one list a second reaches the watcher.
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(300 * time.Millisecond):
			}
			ann.Send(`42["chat:typing"]`)
			bob.Send(`42["chat:typing"]`)
		}
	}()
	lists := 0
	start := time.Now()
	for time.Since(start) < 3*time.Second {
		if strings.HasPrefix(watcher.read(), `42["chat:typing"`) && time.Since(start) < 3*time.Second {
			lists++
		}
	}
	close(stop)
	<-done
	if lists < 2 || lists > 4 {
		t.Fatalf("%d chat:typing in 3 s, want one a second", lists)
	}
}
