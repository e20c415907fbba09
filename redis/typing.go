package redis

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/globalchat/globalchat"
)

var _ globalchat.Typing = (*Typing)(nil)

// typingRead bounds what one List reads: enough to name the first few
// in name order among those typing first to stop; Count is exact.
const typingRead = 100

// typingKeyTTL lets the key go once nobody has typed for a while, so an
// instance that died mid-sentence leaves nothing behind.
const typingKeyTTL = 30 * time.Second

// Typing is who is typing across instances, in the ZSET
// global-chat:typing: each user's JSON scored by the time (ms) it stops
// typing. Instances' clocks are compared: a skew shortens or lengthens a
// 3 s entry by as much, which the indicator can bear.
type Typing struct {
	client  *goredis.Client
	timeout time.Duration
}

// NewTyping returns a Typing on client.
func NewTyping(client *goredis.Client) *Typing {
	return &Typing{client: client, timeout: defaultTimeout}
}

// Set implements globalchat.Typing.
func (t *Typing) Set(ctx context.Context, u globalchat.User, until time.Time) error {
	member, err := json.Marshal(u)
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(ctx, t.timeout)
	defer cancel()
	_, err = t.client.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.ZAdd(ctx, keyTyping, goredis.Z{Score: float64(until.UnixMilli()), Member: member})
		p.Expire(ctx, keyTyping, typingKeyTTL)
		return nil
	})
	return unavailable("typing set", err)
}

// Clear implements globalchat.Typing.
func (t *Typing) Clear(ctx context.Context, u globalchat.User) error {
	member, err := json.Marshal(u)
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(ctx, t.timeout)
	defer cancel()
	return unavailable("typing clear", t.client.ZRem(ctx, keyTyping, member).Err())
}

// List implements globalchat.Typing: it drops the expired entries and
// reads the rest in one round trip.
func (t *Typing) List(ctx context.Context, now time.Time, limit int) ([]globalchat.User, int, error) {
	ctx, cancel := withTimeout(ctx, t.timeout)
	defer cancel()
	from := strconv.FormatInt(now.UnixMilli(), 10)
	var read *goredis.StringSliceCmd
	var count *goredis.IntCmd
	_, err := t.client.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.ZRemRangeByScore(ctx, keyTyping, "-inf", from)
		read = p.ZRangeByScore(ctx, keyTyping, &goredis.ZRangeBy{Min: "(" + from, Max: "+inf", Count: typingRead})
		count = p.ZCard(ctx, keyTyping)
		return nil
	})
	if err != nil {
		return nil, 0, unavailable("typing list", err)
	}
	users := make([]globalchat.User, 0, len(read.Val()))
	for _, m := range read.Val() {
		var u globalchat.User
		if json.Unmarshal([]byte(m), &u) == nil {
			users = append(users, u)
		}
	}
	slices.SortFunc(users, func(a, b globalchat.User) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	})
	return users[:min(limit, len(users))], int(count.Val()), nil
}
