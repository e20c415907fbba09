package chat

import (
	"context"
	"slices"
	"strconv"

	"github.com/globalchat/globalchat"
	"github.com/globalchat/globalchat/socketio"
)

// maxReplay bounds what a recovering socket gets replayed; further behind,
// it reconnects afresh and gets the history.
const maxReplay = 1000

// Replayer gives recovering sockets the messages they missed, by seq, from
// the bus's cache, or from the store when the cache no longer holds them;
// so a client recovers on any instance.
type Replayer struct {
	Bus   globalchat.Bus
	Store globalchat.MessageStore
}

var _ socketio.Replayer = Replayer{}

// Replay implements socketio.Replayer.
func (r Replayer) Replay(ctx context.Context, nsp string, rooms []string, off string) ([]socketio.Broadcast, bool, error) {
	after, err := strconv.ParseInt(off, 10, 64)
	if err != nil || after < 0 || !slices.Contains(rooms, globalchat.Room) {
		return nil, false, nil
	}
	msgs, complete, err := r.Bus.Since(ctx, after, maxReplay+1)
	if err != nil || !complete {
		msgs, err = r.Store.After(ctx, after, maxReplay+1)
	}
	if err != nil || len(msgs) > maxReplay {
		return nil, false, err
	}
	out := make([]socketio.Broadcast, 0, len(msgs))
	for _, m := range msgs {
		b, err := socketio.EncodeEvent(nsp, offset(m.Seq), EventMessage, m)
		if err != nil {
			return nil, false, err
		}
		out = append(out, b)
	}
	return out, true, nil
}
