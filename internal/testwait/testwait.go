// Package testwait waits in tests for a condition to hold: what a test
// waits for is named and bounded, and no test sleeps a guessed time.
package testwait

import (
	"testing"
	"time"
)

// Limit bounds each wait: long enough for a loaded machine, short enough
// to fail fast.
const Limit = 10 * time.Second

// For polls cond until it holds, failing the test after Limit.
func For(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", Limit, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
