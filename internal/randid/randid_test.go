package randid

import (
	"regexp"
	"testing"
)

func TestNew(t *testing.T) {
	urlSafe := regexp.MustCompile(`^[A-Za-z0-9_-]{20}$`)
	seen := map[string]bool{}
	for range 1000 {
		id := New()
		if !urlSafe.MatchString(id) || seen[id] {
			t.Fatalf("id %q: not 20 URL-safe characters, or seen before", id)
		}
		seen[id] = true
	}
}
