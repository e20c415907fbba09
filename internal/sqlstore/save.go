package sqlstore

import (
	"context"

	"github.com/globalchat/globalchat"
	"github.com/globalchat/globalchat/internal/batch"
)

// SaveRequest is one message of a batched save and, once its batch is
// committed, its outcome: what a store's commit function sets.
type SaveRequest struct {
	Msg globalchat.Message
	Err error
}

// Save hands msgs to the store's batcher, one request each, all in one
// batch, and returns the batch's error or else the first message's.
func Save(ctx context.Context, b *batch.Batcher[*SaveRequest], msgs []globalchat.Message) error {
	reqs := make([]*SaveRequest, len(msgs))
	for i, m := range msgs {
		reqs[i] = &SaveRequest{Msg: m}
	}
	if err := b.DoAll(ctx, reqs); err != nil {
		return err
	}
	for _, r := range reqs {
		if r.Err != nil {
			return r.Err
		}
	}
	return nil
}
