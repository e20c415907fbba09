package chat

import (
	"testing"
	"time"
)

// A refusal names the limit's span: RATE_LIMIT_WINDOW need not be a
// minute.
func TestRefusalNamesTheWindow(t *testing.T) {
	for w, want := range map[time.Duration]string{0: "a minute", time.Minute: "a minute", 10 * time.Second: "per 10s", time.Hour: "per 1h0m0s"} {
		if got := per(w); got != want {
			t.Errorf("per(%v) = %q, want %q", w, got, want)
		}
	}
}
