package chat

import (
	"context"
	"math"
	"slices"
	"strconv"
	"time"

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
	// Delivered, if set, is the highest seq this instance has delivered
	// (Service.Delivered). The replay stops there: what comes after
	// reaches the socket live, held until the replay is out, so a message
	// the cache has and this instance has not delivered yet is not sent
	// twice (once replayed, once live a moment later).
	Delivered func() int64
	// Recent, if set, gives the messages with seq in (after, upTo] from
	// this instance's memory of what it delivered (Service.Recent), and
	// whether it still reaches back to after: a replay then needs no
	// round trip to Redis and no decoding.
	Recent func(after, upTo int64) ([]globalchat.Message, bool)
}

// catchUpWait bounds how long a replay waits for this instance to deliver
// up to the client's offset (it was on an instance further ahead).
const catchUpWait = 2 * time.Second

var _ socketio.Replayer = Replayer{}

// Replay implements socketio.Replayer.
func (r Replayer) Replay(ctx context.Context, nsp string, rooms []string, off string) ([]socketio.Broadcast, bool, error) {
	after, err := strconv.ParseInt(off, 10, 64)
	if err != nil || after < 0 || !slices.Contains(rooms, globalchat.Room) {
		return nil, false, nil
	}
	upTo, ok := r.deliveredUpTo(ctx, after)
	if !ok {
		return nil, false, nil
	}
	msgs, err := r.missed(ctx, after, upTo)
	if err != nil || len(msgs) > maxReplay {
		return nil, false, err
	}
	out := make([]socketio.Broadcast, 0, len(msgs))
	for _, m := range msgs {
		b, err := socketio.EncodeBroadcast(nsp, offset(m.Seq), EventMessage, m)
		if err != nil {
			return nil, false, err
		}
		out = append(out, b)
	}
	return out, true, nil
}

// missed returns the messages with seq in (after, upTo], oldest first:
// from this instance's memory, else the bus's cache, else the store (more
// than maxReplay when there are too many to replay).
func (r Replayer) missed(ctx context.Context, after, upTo int64) ([]globalchat.Message, error) {
	if r.Recent != nil {
		if msgs, ok := r.Recent(after, upTo); ok {
			return msgs, nil
		}
	}
	msgs, complete, err := r.Bus.Since(ctx, after, maxReplay+1)
	if err != nil || !complete {
		msgs, err = r.Store.After(ctx, after, maxReplay+1)
	}
	for i, m := range msgs {
		if m.Seq > upTo {
			return msgs[:i], err
		}
	}
	return msgs, err
}

// deliveredUpTo returns the seq up to which the replay goes: what this
// instance has delivered, once that reaches the client's offset (false if
// it does not within catchUpWait: the client then starts afresh, rather
// than get again, live, what it already had).
func (r Replayer) deliveredUpTo(ctx context.Context, after int64) (int64, bool) {
	if r.Delivered == nil {
		return math.MaxInt64, true
	}
	deadline := time.Now().Add(catchUpWait)
	for {
		upTo := r.Delivered()
		if upTo >= after {
			return upTo, true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return 0, false
		}
		time.Sleep(20 * time.Millisecond)
	}
}
