package chat

import (
	"cmp"
	"slices"
	"sync"

	"github.com/globalchat/globalchat"
)

// recentLog keeps the last messages this instance delivered, in the order
// it delivered them, so that a client recovering here gets what it missed
// from memory: during a wave of reconnects (a redeploy, a flaky network)
// each replay would otherwise be a round trip to Redis and the decoding
// of what every other replay decodes too.
type recentLog struct {
	mu    sync.Mutex
	ring  []globalchat.Message // the newest at ring[(next-1) % size]
	next  int
	count int
}

func newRecentLog(size int) *recentLog {
	return &recentLog{ring: make([]globalchat.Message, size)}
}

// add records a delivered message.
func (l *recentLog) add(m globalchat.Message) {
	l.mu.Lock()
	l.ring[l.next] = m
	l.next = (l.next + 1) % len(l.ring)
	l.count = min(l.count+1, len(l.ring))
	l.mu.Unlock()
}

// since returns the messages with seq in (after, upTo], in seq order, and
// whether the log reaches back to after. It does when it holds an
// in-order message (not late) with seq <= after+1: deliveries follow seq
// order but for late ones, which come after higher seqs, so every
// message delivered before that one has a lower seq, at most after, and
// every one with a higher seq came after it. after+1 rather than after:
// a client that joined with the offset of the last message delivered
// before it, or 0 on a new room, recovers from memory as soon as the
// next message is in it (without, each of a wave of such clients made a
// round trip to Redis, at the start of a run every one of them).
func (l *recentLog) since(after, upTo int64) ([]globalchat.Message, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []globalchat.Message
	for i := 1; i <= l.count; i++ {
		m := l.ring[(l.next-i+len(l.ring))%len(l.ring)]
		if m.Seq > after && m.Seq <= upTo {
			out = append(out, m)
		}
		if !m.Late && m.Seq <= after+1 {
			slices.SortFunc(out, func(a, b globalchat.Message) int { return cmp.Compare(a.Seq, b.Seq) })
			return out, true
		}
	}
	return nil, false
}
