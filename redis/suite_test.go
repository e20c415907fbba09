package redis

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/globalchat/globalchat"
	"github.com/globalchat/globalchat/internal/bustest"
	"github.com/globalchat/globalchat/internal/presencetest"
	"github.com/globalchat/globalchat/internal/ratelimittest"
	"github.com/globalchat/globalchat/internal/testenv"
	"github.com/globalchat/globalchat/internal/typingtest"
)

// testLogger logs to the test until it ends (a goroutine that logs later
// must not fail the test binary).
func testLogger(t testing.TB) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(string(p))
	}
	return len(p), nil
}

var _ io.Writer = (*testWriter)(nil)

// client connects to srv; each call is a separate pool, as another
// instance would have.
func client(t testing.TB, srv *testenv.RedisServer) *goredis.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Open(ctx, srv.URL())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newBuses(t testing.TB, srv *testenv.RedisServer, n, recent int) []*Bus {
	buses := make([]*Bus, n)
	for i := range buses {
		buses[i] = NewBus(client(t, srv), BusOptions{Recent: recent, Logger: testLogger(t)})
		b := buses[i]
		t.Cleanup(func() { b.Close() })
	}
	return buses
}

func TestBusSuite(t *testing.T) {
	bustest.Run(t, func(t testing.TB, recent int) []globalchat.Bus {
		srv := testenv.Redis(t)
		var out []globalchat.Bus
		for _, b := range newBuses(t, srv, 3, recent) {
			out = append(out, b)
		}
		return out
	})
}

func TestPresenceSuite(t *testing.T) {
	presencetest.Run(t, func(t testing.TB) []globalchat.Presence {
		srv := testenv.Redis(t)
		var out []globalchat.Presence
		for i := range 3 {
			p := NewPresence(client(t, srv), PresenceOptions{
				InstanceID: fmt.Sprint("instance-", i), Logger: testLogger(t),
			})
			if err := p.Start(ctxT(t)); err != nil {
				t.Fatalf("Start: %v", err)
			}
			t.Cleanup(func() { p.Close() })
			out = append(out, p)
		}
		return out
	})
}

func TestTypingSuite(t *testing.T) {
	typingtest.Run(t, func(t testing.TB) []globalchat.Typing {
		srv := testenv.Redis(t)
		return []globalchat.Typing{NewTyping(client(t, srv)), NewTyping(client(t, srv))}
	})
}

func TestRateLimiterSuite(t *testing.T) {
	ratelimittest.Run(t, func(t testing.TB, perMinute int, clock func() time.Time) globalchat.RateLimiter {
		srv := testenv.Redis(t)
		l := NewRateLimiter(client(t, srv), perMinute, RateLimiterOptions{Clock: clock})
		t.Cleanup(func() { l.Close() })
		return l
	})
}

func TestRateLimiterWindow(t *testing.T) {
	ratelimittest.RunWindow(t, func(t testing.TB, perMinute int, window time.Duration, clock func() time.Time) globalchat.RateLimiter {
		l := NewRateLimiter(client(t, testenv.Redis(t)), perMinute, RateLimiterOptions{Clock: clock, Window: window})
		t.Cleanup(func() { l.Close() })
		return l
	})
}
