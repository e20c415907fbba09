package redis

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/globalchat/globalchat"
)

// The spool (global-chat:spool) holds every published message until the
// store confirms it: publish.lua adds it in the same step that publishes
// it, Release drops it once committed, and DrainSpool stores what is left
// (a store that was down, an instance that died between publish and
// commit). So a message that was broadcast is stored, as long as Redis
// keeps its data.
const (
	releaseQueue = 100_000 // seqs waiting to be dropped; beyond, DrainSpool does it
	releasePage  = 512
	drainPage    = 500
	// drainAfter leaves a message to its own instance for this long: the
	// message path commits it in well under a second unless the store is
	// down.
	drainAfter = 5 * time.Second
	drainEvery = time.Second
)

// Release drops stored messages from the spool. It never waits: the
// seqs are dropped in the background, a batch per round trip, and a seq
// that does not fit in the queue is left to DrainSpool, which stores it
// again (idempotently) and drops it.
func (b *Bus) Release(seqs ...int64) {
	for _, seq := range seqs {
		select {
		case b.release <- seq:
		default:
			return
		}
	}
}

func (b *Bus) releaseLoop() {
	var page []int64
	for {
		select {
		case <-b.ctx.Done():
			return
		case seq := <-b.release:
			page = append(page[:0], seq)
		}
	more:
		for len(page) < releasePage {
			select {
			case seq := <-b.release:
				page = append(page, seq)
			default:
				break more
			}
		}
		ctx, cancel := withTimeout(b.ctx, b.timeout)
		_, err := b.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for _, seq := range page {
				s := strconv.FormatInt(seq, 10)
				p.ZRemRangeByScore(ctx, keySpool, s, s)
			}
			return nil
		})
		cancel()
		if err != nil {
			b.log.Debug("redis bus: spool release failed; the drain will store and drop them", "n", len(page), "err", err)
		}
	}
}

// SpoolDepth returns how many messages the spool holds.
func (b *Bus) SpoolDepth(ctx context.Context) (int64, error) {
	ctx, cancel := withTimeout(ctx, b.timeout)
	defer cancel()
	n, err := b.client.ZCard(ctx, keySpool).Result()
	if err != nil {
		return 0, unavailable("spool depth", err)
	}
	return n, nil
}

// DrainSpool stores, in seq order, the spooled messages older than
// drainAfter, and drops them from the spool once committed; it runs until
// ctx ends. Every instance runs one: saving is idempotent on the message
// id, so two instances draining one message store it once. A message the
// store refuses as a conflict (its seq or client id held by another) is
// moved to global-chat:spool-conflicts and logged: it cannot be stored,
// and draining it forever would stop the rest. drained is called with
// how many messages each pass stored.
func (b *Bus) DrainSpool(ctx context.Context, store globalchat.MessageStore, drained func(n int)) {
	t := time.NewTicker(drainEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := b.drainOnce(ctx, store)
		if n > 0 && drained != nil {
			drained(n)
		}
		if err != nil && ctx.Err() == nil {
			b.log.Debug("redis bus: spool drain paused", "err", err)
		}
	}
}

// drainOnce drains pages until the spool holds only recent messages.
func (b *Bus) drainOnce(ctx context.Context, store globalchat.MessageStore) (int, error) {
	total := 0
	for {
		c, cancel := withTimeout(ctx, b.timeout)
		vals, err := b.client.ZRangeWithScores(c, keySpool, 0, drainPage-1).Result()
		cancel()
		if err != nil {
			return total, unavailable("spool read", err)
		}
		var due []globalchat.Message
		cutoff := time.Now().Add(-drainAfter)
		for _, z := range vals {
			m, err := decodeMessage(z.Member)
			if err != nil {
				// Only this package writes the spool: a bug, not data.
				b.log.Error("redis bus: unreadable spool entry dropped", "seq", z.Score, "err", err)
				b.client.ZRem(ctx, keySpool, z.Member)
				break
			}
			if m.CreatedAt.After(cutoff) {
				break // in seq order: what follows is as recent
			}
			due = append(due, m)
		}
		if len(due) == 0 {
			return total, nil
		}
		if err := b.storeDue(ctx, store, due); err != nil {
			return total, err
		}
		total += len(due)
		if len(due) < drainPage {
			return total, nil
		}
	}
}

// storeDue saves due and drops it from the spool; on a conflict it
// saves one by one to set the refused aside.
func (b *Bus) storeDue(ctx context.Context, store globalchat.MessageStore, due []globalchat.Message) error {
	err := store.Save(ctx, due...)
	if errors.Is(err, globalchat.ErrConflict) {
		for _, m := range due {
			if err := store.Save(ctx, m); errors.Is(err, globalchat.ErrConflict) {
				b.log.Error("redis bus: a spooled message conflicts with a stored one; kept in global-chat:spool-conflicts",
					"id", m.ID, "seq", m.Seq, "err", err)
				b.setAside(ctx, m)
			} else if err != nil {
				return err
			}
		}
		err = nil
	}
	if err != nil {
		return err
	}
	c, cancel := withTimeout(ctx, b.timeout)
	defer cancel()
	from, to := strconv.FormatInt(due[0].Seq, 10), strconv.FormatInt(due[len(due)-1].Seq, 10)
	if err := b.client.ZRemRangeByScore(c, keySpool, from, to).Err(); err != nil {
		return unavailable("spool drop", err)
	}
	return nil
}

func (b *Bus) setAside(ctx context.Context, m globalchat.Message) {
	c, cancel := withTimeout(ctx, b.timeout)
	defer cancel()
	raw, _ := json.Marshal(m)
	b.client.ZAdd(c, keySpoolConflicts, goredis.Z{Score: float64(m.Seq), Member: string(raw)})
}
