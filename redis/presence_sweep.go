package redis

import (
	"context"

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
		for _, id := range ids {
			if err := p.pruneUser(ctx, id); err != nil {
				p.log.Warn("redis presence: sweep failed", "err", err)
				return
			}
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	p.pruneNames(ctx)
}

// pruneUser drops the sockets of userID whose key is gone; the user
// leaves when none is left.
func (p *Presence) pruneUser(ctx context.Context, userID string) error {
	ctx, cancel := withTimeout(ctx, p.opts.Timeout)
	defer cancel()
	sids, err := p.client.SMembers(ctx, keyUserSockets(userID)).Result()
	if err != nil {
		return unavailable("prune user", err)
	}
	keys := []string{keyUserSockets(userID), keyUserOnline(userID), keyOnlineUsers, keyOnlineNames}
	args := []any{userID}
	for _, sid := range sids {
		keys = append(keys, keyUserSocket(sid))
		args = append(args, sid)
	}
	res, err := p.pruneUserScript.Run(ctx, p.client, keys, args...).Slice()
	if err != nil {
		return unavailable("prune user", err)
	}
	if len(res) == 3 {
		left, _ := res[0].(int64)
		count, _ := res[1].(int64)
		name, _ := res[2].(string)
		if left == 1 {
			p.opts.OnLeft(globalchat.User{ID: userID, Name: name}, int(count))
		}
	}
	return nil
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
