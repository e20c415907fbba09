package logsample

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// newSampler returns a sampler on a fake clock that logs JSON into a
// buffer, and a function that returns the lines logged so far, decoded.
func newSampler(t *testing.T, opts Options) (*Sampler, *clock, func() []map[string]any) {
	t.Helper()
	var (
		mu  sync.Mutex
		buf bytes.Buffer
	)
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	opts.Now = c.Now
	h := slog.NewJSONHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}), nil)
	lines := func() []map[string]any {
		mu.Lock()
		defer mu.Unlock()
		var out []map[string]any
		for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			if l == "" {
				continue
			}
			m := map[string]any{}
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("log line %q: %v", l, err)
			}
			out = append(out, m)
		}
		return out
	}
	return New(slog.New(h), opts), c, lines
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestFirstLoggedRestCountedThenSummarised(t *testing.T) {
	s, c, lines := newSampler(t, Options{Interval: time.Minute})
	ctx := context.Background()
	for range 5 {
		s.Log(ctx, slog.LevelInfo, "refused", "10.0.0.1", "client refused", slog.String("reason", "eio3"))
		c.Add(time.Second)
	}
	got := lines()
	if len(got) != 1 {
		t.Fatalf("lines after 5 occurrences in 5s = %d, want 1: %v", len(got), got)
	}
	first := got[0]
	if first["msg"] != "client refused" || first["kind"] != "refused" || first["key"] != "10.0.0.1" ||
		first["reason"] != "eio3" || first["level"] != "INFO" || first["suppressed"] != nil {
		t.Fatalf("first line = %v", first)
	}
	s.Flush(ctx) // interval not over yet: nothing
	if n := len(lines()); n != 1 {
		t.Fatalf("lines after an early Flush = %d, want 1", n)
	}
	c.Add(time.Minute)
	s.Flush(ctx)
	got = lines()
	if len(got) != 2 {
		t.Fatalf("lines after the interval's Flush = %d, want 2: %v", len(got), got)
	}
	if sum := got[1]; sum["suppressed"] != float64(4) || sum["key"] != "10.0.0.1" || sum["reason"] != "eio3" {
		t.Fatalf("summary line = %v, want suppressed 4", sum)
	}
	if s.Tracked() != 0 {
		t.Fatalf("tracked after expiry = %d, want 0", s.Tracked())
	}
	s.Log(ctx, slog.LevelInfo, "refused", "10.0.0.1", "client refused")
	if n := len(lines()); n != 3 {
		t.Fatalf("lines after a new interval's occurrence = %d, want 3", n)
	}
}

func TestQuietKeyExpiresWithoutSummary(t *testing.T) {
	s, c, lines := newSampler(t, Options{Interval: time.Minute})
	ctx := context.Background()
	s.Log(ctx, slog.LevelInfo, "refused", "a", "x")
	c.Add(2 * time.Minute)
	s.Flush(ctx)
	if n := len(lines()); n != 1 {
		t.Fatalf("lines = %d, want 1 (no summary for a single occurrence)", n)
	}
	if s.Tracked() != 0 {
		t.Fatalf("tracked = %d, want 0", s.Tracked())
	}
}

func TestSummaryComesWithTheNextOccurrenceWithoutFlush(t *testing.T) {
	s, c, lines := newSampler(t, Options{Interval: time.Minute})
	ctx := context.Background()
	s.Log(ctx, slog.LevelInfo, "refused", "a", "x")
	s.Log(ctx, slog.LevelInfo, "refused", "a", "x")
	s.Log(ctx, slog.LevelInfo, "refused", "a", "x")
	c.Add(61 * time.Second)
	s.Log(ctx, slog.LevelInfo, "refused", "a", "x")
	got := lines()
	if len(got) != 3 {
		t.Fatalf("lines = %d, want 3 (first, summary of 2, new window's first): %v", len(got), got)
	}
	if got[1]["suppressed"] != float64(2) || got[2]["suppressed"] != nil {
		t.Fatalf("lines = %v", got)
	}
}

func TestKindsAndKeysAreSeparate(t *testing.T) {
	s, _, lines := newSampler(t, Options{})
	ctx := context.Background()
	s.Log(ctx, slog.LevelInfo, "refused", "a", "x")
	s.Log(ctx, slog.LevelInfo, "refused", "b", "x")
	s.Log(ctx, slog.LevelWarn, "oversize", "a", "y")
	s.Log(ctx, slog.LevelInfo, "refused", "a", "x")
	if n := len(lines()); n != 3 {
		t.Fatalf("lines = %d, want 3", n)
	}
}

func TestKeysBeyondTheCapAreCountedTogether(t *testing.T) {
	s, c, lines := newSampler(t, Options{Interval: time.Minute, MaxKeys: 3})
	ctx := context.Background()
	for i := range 100 {
		s.Log(ctx, slog.LevelInfo, "refused", fmt.Sprint("10.0.0.", i), "x")
	}
	if s.Tracked() != 4 {
		t.Fatalf("tracked = %d, want 3 keys + 1 overflow", s.Tracked())
	}
	got := lines()
	if len(got) != 4 || got[3]["key"] != OverflowKey {
		t.Fatalf("lines = %v, want 3 keys then one overflow line", got)
	}
	c.Add(time.Minute)
	s.Flush(ctx)
	got = lines()
	if len(got) != 5 || got[4]["key"] != OverflowKey || got[4]["suppressed"] != float64(96) {
		t.Fatalf("lines after the interval = %v, want an overflow summary of 96", got)
	}
	if s.Tracked() != 0 {
		t.Fatalf("tracked after expiry = %d, want 0", s.Tracked())
	}
	s.Log(ctx, slog.LevelInfo, "refused", "new", "x")
	if got := lines(); got[len(got)-1]["key"] != "new" {
		t.Fatalf("a new key after expiry was not tracked on its own: %v", got[len(got)-1])
	}
}

func TestExpiryMakesRoomForNewKeys(t *testing.T) {
	s, c, lines := newSampler(t, Options{Interval: time.Minute, MaxKeys: 2})
	ctx := context.Background()
	s.Log(ctx, slog.LevelInfo, "k", "a", "x")
	c.Add(30 * time.Second)
	s.Log(ctx, slog.LevelInfo, "k", "b", "x")
	c.Add(31 * time.Second) // a's window is over, b's is not
	s.Log(ctx, slog.LevelInfo, "k", "c", "x")
	got := lines()
	if len(got) != 3 || got[2]["key"] != "c" {
		t.Fatalf("lines = %v, want c logged under its own key", got)
	}
	if s.Tracked() != 2 {
		t.Fatalf("tracked = %d, want 2 (b and c)", s.Tracked())
	}
}

func TestConcurrentUse(t *testing.T) {
	s, c, lines := newSampler(t, Options{Interval: time.Minute, MaxKeys: 50})
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				s.Log(ctx, slog.LevelInfo, "k", fmt.Sprint(g, "-", i%20), "x")
			}
		})
	}
	wg.Wait()
	c.Add(time.Minute)
	s.Flush(ctx)
	// Every occurrence is either a first line or counted in a summary
	// (of its key or of the overflow).
	total := 0
	for _, l := range lines() {
		if n, ok := l["suppressed"].(float64); ok {
			total += int(n)
		} else {
			total++
		}
	}
	if total != 8*500 {
		t.Fatalf("occurrences accounted = %d, want %d", total, 8*500)
	}
}

func TestRunFlushesUntilCancelled(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	h := slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}), nil)
	s := New(slog.New(h), Options{Interval: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	s.Log(ctx, slog.LevelInfo, "k", "a", "x")
	s.Log(ctx, slog.LevelInfo, "k", "a", "x")
	deadline := time.Now().Add(2 * time.Second)
	for {
		mu.Lock()
		out := buf.String()
		mu.Unlock()
		if strings.Contains(out, "suppressed=1") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no summary from Run within 2s: %q", out)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
}
