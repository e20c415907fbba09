package inmem

import (
	"time"

	"github.com/globalchat/globalchat"
)

type dedupeKey struct{ userID, clientMsgID string }

type dedupeEntry struct {
	msg     globalchat.Message
	expires time.Time
}

// dedupe remembers the messages published with a client message id for a
// TTL, and at most max of them. Every entry lives the same TTL, so the
// insertion order is also the expiry order: a FIFO of keys makes sweeping
// and capping cost only the entries that leave. Not safe for concurrent use.
type dedupe struct {
	ttl     time.Duration
	max     int
	entries map[dedupeKey]dedupeEntry
	order   []dedupeKey // oldest first, from head
	head    int
}

func newDedupe(ttl time.Duration, max int) *dedupe {
	return &dedupe{ttl: ttl, max: max, entries: make(map[dedupeKey]dedupeEntry)}
}

// get returns the live message remembered for k.
func (d *dedupe) get(k dedupeKey, now time.Time) (globalchat.Message, bool) {
	e, ok := d.entries[k]
	if !ok || !now.Before(e.expires) {
		return globalchat.Message{}, false
	}
	return e.msg, true
}

// put remembers m under k and sweeps what expired or overflows.
func (d *dedupe) put(k dedupeKey, m globalchat.Message, now time.Time) {
	if _, ok := d.entries[k]; !ok {
		d.order = append(d.order, k)
	}
	d.entries[k] = dedupeEntry{msg: m, expires: now.Add(d.ttl)}
	d.sweep(now)
}

func (d *dedupe) sweep(now time.Time) {
	for d.head < len(d.order) {
		k := d.order[d.head]
		e, ok := d.entries[k]
		if ok && now.Before(e.expires) && len(d.entries) <= d.max {
			break
		}
		delete(d.entries, k)
		d.order[d.head] = dedupeKey{}
		d.head++
	}
	// Reclaim the consumed front once it is most of the slice.
	if d.head > 1024 && d.head*2 > len(d.order) {
		d.order = append(d.order[:0:0], d.order[d.head:]...)
		d.head = 0
	}
}

func (d *dedupe) len() int { return len(d.entries) }
