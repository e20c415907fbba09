package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/globalchat/globalchat"
)

var _ globalchat.RateLimiter = (*RateLimiter)(nil)

// RateWindow is the span of a rate limit: perMinute messages in any
// RateWindow.
const RateWindow = time.Minute

// RateLimiterOptions configures a RateLimiter. Zero values take the
// defaults.
type RateLimiterOptions struct {
	// Clock, when set, gives the time instead of the Redis server's TIME
	// (tests). Every instance must then share one clock source.
	Clock   func() time.Time
	Timeout time.Duration // one call to Redis; default 3s
}

// RateLimiter allows each user at most perMinute messages in any sliding
// minute, across instances, with a sliding-window log in the ZSET
// global-chat:rate-limit:{userId} (see scripts/ratelimit.lua).
//
// Why a sliding log: a fixed window lets 2×perMinute through around a
// window boundary, and GCRA lets perMinute plus the refill through within
// a minute. The log is exact, RetryAfter too (when the oldest send leaves
// the window), and its cost is bounded: at most perMinute members per
// user, gone a minute after the user's last send. The time is the Redis
// server's, so instances with skewed clocks agree.
type RateLimiter struct {
	client *goredis.Client
	limit  int
	opts   RateLimiterOptions
	script *goredis.Script
}

// NewRateLimiter returns a RateLimiter of perMinute messages per user
// (perMinute <= 0 takes the reference design's 20).
func NewRateLimiter(client *goredis.Client, perMinute int, opts ...RateLimiterOptions) *RateLimiter {
	var o RateLimiterOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	if perMinute <= 0 {
		perMinute = 20
	}
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	return &RateLimiter{client: client, limit: perMinute, opts: o, script: loadScript("ratelimit")}
}

// Allow implements globalchat.RateLimiter. A refused attempt is not
// counted.
func (r *RateLimiter) Allow(ctx context.Context, userID string) (globalchat.Decision, error) {
	now := ""
	if r.opts.Clock != nil {
		now = fmt.Sprint(r.opts.Clock().UnixMicro())
	}
	var nonce [8]byte
	_, _ = rand.Read(nonce[:]) // never fails (crypto/rand)
	ctx, cancel := withTimeout(ctx, r.opts.Timeout)
	defer cancel()
	res, err := r.script.Run(ctx, r.client, []string{keyRateLimit(userID)},
		r.limit, RateWindow.Microseconds(), now, hex.EncodeToString(nonce[:])).Int64Slice()
	if err != nil {
		return globalchat.Decision{}, unavailable("rate limit", err)
	}
	if len(res) != 3 {
		return globalchat.Decision{}, fmt.Errorf("redis: rate limit: unexpected reply %v", res)
	}
	if res[0] == 1 {
		return globalchat.Decision{Allowed: true, Limit: r.limit, Remaining: int(res[1])}, nil
	}
	wait := time.Duration(res[2]) * time.Microsecond
	return globalchat.Decision{Limit: r.limit, RetryAfter: min(max(wait, 0), RateWindow)}, nil
}
