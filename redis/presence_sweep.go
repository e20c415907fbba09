package redis

import (
	"context"

	goredis "github.com/redis/go-redis/v9"

	"github.com/globalchat/globalchat"
)

// sweep repairs what the reaper cannot see: users whose socket keys
// expired (every instance was down longer than the TTL, or Redis evicted
// keys under memory pressure) and entries of the name index whose user is
// gone. It reports the users who left.
func (p *Presence) sweep(ctx context.Context) {
	var cursor uint64
	for {
		c, cancel := withTimeout(ctx, p.opts.Timeout)
		ids, next, err := p.client.SScan(c, keyOnlineUsers, cursor, "", scanCount).Result()
		cancel()
		if err != nil {
			p.log.Warn("redis presence: sweep failed", "err", err)
			return
		}
		if err := p.prunePage(ctx, ids); err != nil {
			p.log.Warn("redis presence: sweep failed", "err", err)
			return
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	p.pruneNames(ctx)
}

// prunePage drops the sockets of each of the users whose key is gone;
// a user leaves when none is left. Two round trips for the page (their
// socket sets, then the prune of each), not two per user: the first
// sweep of an instance that starts beside 10,000 online users, in the
// middle of a redeploy, would otherwise make 20,000 round trips one
// after the other.
func (p *Presence) prunePage(ctx context.Context, ids []string) error {
	ctx, cancel := withTimeout(ctx, p.opts.Timeout)
	defer cancel()
	sets := make([]*goredis.StringSliceCmd, len(ids))
	_, err := p.client.Pipelined(ctx, func(pipe goredis.Pipeliner) error {
		for i, id := range ids {
			sets[i] = pipe.SMembers(ctx, keyUserSockets(id))
		}
		return nil
	})
	if err != nil {
		return unavailable("prune users", err)
	}
	all := make([]int, len(ids))
	for i := range all {
		all[i] = i
	}
	prunes, err := p.runPrunes(ctx, ids, sets, all)
	if goredis.HasErrorPrefix(err, "NOSCRIPT") { // Redis restarted or flushed since the script was loaded
		// Only the prunes that did not run go again: one that ran and let
		// its user leave must be reported, and would not leave twice.
		var again []int
		for _, i := range all {
			if goredis.HasErrorPrefix(prunes[i].Err(), "NOSCRIPT") {
				again = append(again, i)
			}
		}
		if err = p.pruneUserScript.Load(ctx, p.client).Err(); err == nil {
			var rerun []*goredis.Cmd
			rerun, err = p.runPrunes(ctx, ids, sets, again)
			for _, i := range again {
				prunes[i] = rerun[i]
			}
		}
	}
	if err != nil {
		return unavailable("prune users", err)
	}
	for i, cmd := range prunes {
		p.reportPruned(ids[i], cmd)
	}
	return nil
}

// runPrunes runs the prune script of the users at the indexes which, with
// the sockets read from their sets, in one pipeline.
func (p *Presence) runPrunes(ctx context.Context, ids []string, sets []*goredis.StringSliceCmd, which []int) ([]*goredis.Cmd, error) {
	cmds := make([]*goredis.Cmd, len(ids))
	_, err := p.client.Pipelined(ctx, func(pipe goredis.Pipeliner) error {
		for _, i := range which {
			id := ids[i]
			keys := []string{keyUserSockets(id), keyUserOnline(id), keyOnlineUsers, keyOnlineNames}
			args := []any{id}
			for _, sid := range sets[i].Val() {
				keys = append(keys, keyUserSocket(sid))
				args = append(args, sid)
			}
			cmds[i] = p.pruneUserScript.EvalSha(ctx, pipe, keys, args...)
		}
		return nil
	})
	return cmds, err
}

// reportPruned announces the user who left with a prune.
func (p *Presence) reportPruned(userID string, cmd *goredis.Cmd) {
	res, _ := cmd.Slice()
	if len(res) != 3 {
		return
	}
	left, _ := res[0].(int64)
	count, _ := res[1].(int64)
	name, _ := res[2].(string)
	if left == 1 {
		p.opts.OnLeft(globalchat.User{ID: userID, Name: name}, int(count))
	}
}

// pruneNames drops the name index entries of users no longer online.
func (p *Presence) pruneNames(ctx context.Context) {
	var cursor uint64
	for {
		c, cancel := withTimeout(ctx, p.opts.Timeout)
		page, next, err := p.client.ZScan(c, keyOnlineNames, cursor, "", scanCount).Result()
		if err == nil && len(page) > 0 {
			// ZSCAN returns member, score, member, score...
			members := make([]any, 0, len(page)/2)
			for i := 0; i < len(page); i += 2 {
				members = append(members, page[i])
			}
			err = p.pruneNamesScript.Run(c, p.client, []string{keyOnlineUsers, keyOnlineNames}, members...).Err()
		}
		cancel()
		if err != nil {
			p.log.Warn("redis presence: prune names failed", "err", err)
			return
		}
		if cursor = next; cursor == 0 {
			return
		}
	}
}
