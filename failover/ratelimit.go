package failover

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/globalchat/globalchat"
)

// limiterTimeout bounds one check against Redis; limiterRest is how long
// the fallback answers alone after Redis failed one, so that a hung Redis
// does not cost every message the timeout.
const (
	limiterTimeout = time.Second
	limiterRest    = 2 * time.Second
)

var _ globalchat.RateLimiter = (*RateLimiter)(nil)

// RateLimiter asks the primary (Redis, shared by every instance) and,
// while it does not answer, the fallback (this instance's memory): a user
// keeps a limit, per instance, rather than being refused for an outage.
type RateLimiter struct {
	Primary, Fallback globalchat.RateLimiter
	restUntil         atomic.Int64 // Unix nanoseconds
}

// Allow implements globalchat.RateLimiter.
func (l *RateLimiter) Allow(ctx context.Context, userID string) (globalchat.Decision, error) {
	if time.Now().UnixNano() >= l.restUntil.Load() {
		c, cancel := context.WithTimeout(ctx, limiterTimeout)
		d, err := l.Primary.Allow(c, userID)
		cancel()
		if err == nil || !(errors.Is(err, globalchat.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded)) {
			return d, err
		}
		l.restUntil.Store(time.Now().Add(limiterRest).UnixNano())
	}
	return l.Fallback.Allow(ctx, userID)
}
