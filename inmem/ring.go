package inmem

import (
	"sort"

	"github.com/globalchat/globalchat"
)

// ring keeps the last len(buf) messages in Seq order: the oldest is
// overwritten when it is full. It is not safe for concurrent use.
type ring struct {
	buf   []globalchat.Message
	start int // index of the oldest
	n     int
}

func newRing(capacity int) *ring { return &ring{buf: make([]globalchat.Message, capacity)} }

// push appends m and returns the message it evicted, if any.
func (r *ring) push(m globalchat.Message) (evicted globalchat.Message, ok bool) {
	if r.n < len(r.buf) {
		r.buf[(r.start+r.n)%len(r.buf)] = m
		r.n++
		return globalchat.Message{}, false
	}
	evicted = r.buf[r.start]
	r.buf[r.start] = m
	r.start = (r.start + 1) % len(r.buf)
	return evicted, true
}

// at returns the i-th oldest message.
func (r *ring) at(i int) globalchat.Message { return r.buf[(r.start+i)%len(r.buf)] }

// firstAfter returns the index of the first message with Seq > seq.
func (r *ring) firstAfter(seq int64) int {
	return sort.Search(r.n, func(i int) bool { return r.at(i).Seq > seq })
}

// firstFrom returns the index of the first message with Seq >= seq.
func (r *ring) firstFrom(seq int64) int {
	return sort.Search(r.n, func(i int) bool { return r.at(i).Seq >= seq })
}

// slice copies the messages at indexes [from, to).
func (r *ring) slice(from, to int) []globalchat.Message {
	if from >= to {
		return nil
	}
	out := make([]globalchat.Message, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, r.at(i))
	}
	return out
}
