package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/globalchat/globalchat"
	"github.com/globalchat/globalchat/internal/batch"
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
	// Window is the span of the limit; default RateWindow (a minute).
	Window time.Duration
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
//
// Concurrent Allow calls share one round trip: a batcher hands everything
// pending to one run of the script. Close stops it.
type RateLimiter struct {
	client *goredis.Client
	limit  int
	opts   RateLimiterOptions
	script *goredis.Script
	batch  *batch.Batcher[*allowReq]
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
	if o.Window <= 0 {
		o.Window = RateWindow
	}
	r := &RateLimiter{client: client, limit: perMinute, opts: o, script: loadScript("ratelimit")}
	r.batch = batch.New(r.allowBatch, batch.Options{})
	return r
}

// Allow implements globalchat.RateLimiter. A refused attempt is not
// counted.
func (r *RateLimiter) Allow(ctx context.Context, userID string) (globalchat.Decision, error) {
	var nonce [8]byte
	_, _ = rand.Read(nonce[:]) // never fails (crypto/rand)
	req := &allowReq{key: keyRateLimit(userID), nonce: hex.EncodeToString(nonce[:])}
	if err := r.batch.Do(ctx, req); err != nil {
		return globalchat.Decision{}, batchError("rate limit", err)
	}
	if req.allowed {
		return globalchat.Decision{Allowed: true, Limit: r.limit, Window: r.opts.Window, Remaining: int(req.remaining)}, nil
	}
	return globalchat.Decision{Limit: r.limit, Window: r.opts.Window, RetryAfter: min(max(req.wait, 0), r.opts.Window)}, nil
}

// Close stops the batcher, after deciding what is pending.
func (r *RateLimiter) Close() error {
	r.batch.Close()
	return nil
}

// allowReq is one send of a batch and, once decided, its answer.
type allowReq struct {
	key, nonce string

	allowed   bool
	remaining int64
	wait      time.Duration
}

// allowBatch decides a batch with one run of ratelimit.lua.
func (r *RateLimiter) allowBatch(ctx context.Context, reqs []*allowReq) error {
	now := ""
	if r.opts.Clock != nil {
		now = fmt.Sprint(r.opts.Clock().UnixMicro())
	}
	keys := make([]string, len(reqs))
	args := make([]any, 0, 3+len(reqs))
	args = append(args, r.limit, r.opts.Window.Microseconds(), now)
	for i, req := range reqs {
		keys[i] = req.key
		args = append(args, req.nonce)
	}
	ctx, cancel := withTimeout(ctx, r.opts.Timeout)
	defer cancel()
	res, err := r.script.Run(ctx, r.client, keys, args...).Int64Slice()
	if err != nil {
		return unavailable("rate limit", err)
	}
	if len(res) != 3*len(reqs) {
		return fmt.Errorf("redis: rate limit: %d answers for %d sends", len(res)/3, len(reqs))
	}
	for i, req := range reqs {
		req.allowed = res[3*i] == 1
		req.remaining = res[3*i+1]
		req.wait = time.Duration(res[3*i+2]) * time.Microsecond
	}
	return nil
}
