package chat

import (
	"context"
	"log/slog"
	"time"

	"github.com/globalchat/globalchat"
)

// allowAddress applies a per-address limit (none when l is nil or the
// address unknown): a client that makes up a new guest for each burst
// still shares one budget with every guest it made. A refusal is a
// rate_limited error saying what and when, and how long to wait; a
// limiter that fails lets the client through, as the per-user limit
// still holds.
func (s *Service) allowAddress(ctx context.Context, l globalchat.RateLimiter, addr, what string) (time.Duration, error) {
	if l == nil || addr == "" {
		return 0, nil
	}
	d, err := l.Allow(ctx, addr)
	if err != nil || d.Allowed {
		return 0, nil
	}
	s.metrics.addressLimited.WithLabelValues(what).Inc()
	s.cfg.Sampler.Log(ctx, slog.LevelWarn, "address limit "+what, addr, "chat: per-address limit reached",
		slog.String("what", what), slog.String("addr", addr), slog.Int("limit", d.Limit))
	return d.RetryAfter, globalchat.Errorf(globalchat.CodeRateLimited,
		"at most %d %s %s from one address: try again in %.0fs", d.Limit, what, per(d.Window), max(1, d.RetryAfter.Seconds()))
}

// per says a limit's span in a refusal: "a minute", or "per 10s" for
// another RATE_LIMIT_WINDOW.
func per(window time.Duration) string {
	if window <= 0 || window == time.Minute {
		return "a minute"
	}
	return "per " + window.String()
}
