package chat

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
)

// historyCache keeps the chat:history payload encoded, so that a storm of
// connections costs one read and one encoding per new message, not one per
// connection. It is current while no message was delivered since it was
// built.
type historyCache struct {
	delivered atomic.Int64 // seq of the last message delivered here

	mu    sync.Mutex
	seq   int64 // delivered when the payload was built
	valid bool
	raw   json.RawMessage
}

// get returns the payload, building it with build when a message came
// since. A failed build is not kept.
func (h *historyCache) get(ctx context.Context, build func(context.Context) (json.RawMessage, error)) (json.RawMessage, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.delivered.Load()
	if h.valid && h.seq == now {
		return h.raw, nil
	}
	raw, err := build(ctx)
	if err != nil {
		return nil, err
	}
	h.raw, h.seq, h.valid = raw, now, true
	return raw, nil
}

// advance records a delivered message.
func (h *historyCache) advance(seq int64) { h.delivered.Store(seq) }
