package failover

import (
	"sync"

	"github.com/globalchat/globalchat"
)

// remembered is how many delivered seqs the deliverer keeps to drop
// repeats: far more than any source repeats (a page of gap filling, the
// store's messages that Redis's subscriber reads again after a return).
const remembered = 20_000

// deliverer hands each seq to the handler once, from any number of
// sources, and marks Late a seq below the highest it handed: that one is
// broadcast without a recovery offset, so a client's offset never goes
// back and a recovering socket does not drop it as a replayed duplicate.
type deliverer struct {
	mu      sync.Mutex
	handler func(globalchat.Message)
	last    int64 // highest seq delivered
	low     int64 // seqs at or below it were forgotten: dropped if seen again
	seen    map[int64]struct{}
	order   []int64 // seen, oldest first, as a ring of remembered entries
	next    int     // where the next seq goes in order
}

func newDeliverer(handler func(globalchat.Message)) *deliverer {
	return &deliverer{handler: handler, seen: make(map[int64]struct{}, remembered), order: make([]int64, 0, remembered)}
}

// deliver hands m to the handler unless its seq was delivered already.
// The handler runs under the lock, so deliveries never overtake each
// other; it must not block (the chat only queues to sockets).
func (d *deliverer) deliver(m globalchat.Message) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if m.Seq <= d.low {
		return
	}
	if _, ok := d.seen[m.Seq]; ok {
		return
	}
	d.remember(m.Seq)
	m.Late = m.Seq < d.last // it goes out without an offset (see Message.Late)
	d.last = max(d.last, m.Seq)
	d.handler(m)
}

func (d *deliverer) remember(seq int64) {
	if len(d.order) < remembered {
		d.order = append(d.order, seq)
	} else {
		old := d.order[d.next]
		delete(d.seen, old)
		d.low = max(d.low, old)
		d.order[d.next] = seq
		d.next = (d.next + 1) % remembered
	}
	d.seen[seq] = struct{}{}
}

// lastSeq returns the highest seq delivered.
func (d *deliverer) lastSeq() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.last
}
