package redis

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	goredis "github.com/redis/go-redis/v9"

	"github.com/globalchat/globalchat"
	"github.com/globalchat/globalchat/internal/batch"
)

var _ globalchat.Bus = (*Bus)(nil)

var errBusClosed = errors.New("redis: bus closed")

// BusOptions configures a Bus. Zero values take the defaults.
type BusOptions struct {
	Recent  int           // messages kept in global-chat:recent; default 1000
	Timeout time.Duration // one call to Redis; default 3s
	// SpoolMax is the most messages global-chat:spool holds while the
	// store does not take them; beyond it Publish refuses (unavailable).
	// Default 100,000.
	SpoolMax int
	// Fill reads the store: the subscriber fills a gap with it when
	// neither the cache nor the spool reaches back far enough (the cache
	// was trimmed, or lost with a Redis restart). Nil: cache and spool only.
	Fill   func(ctx context.Context, after int64, limit int) ([]globalchat.Message, error)
	Logger *slog.Logger
}

// Bus numbers messages with one Redis counter and carries them to every
// instance over Redis pub/sub, in seq order.
//
// Order: publish.lua gives the seq, caches the message and PUBLISHes it in
// one atomic step, and Redis delivers a channel's messages in the order
// they were published, so every subscriber sees seq order. The subscriber
// also keeps the last seq it delivered: it drops what it already delivered
// and fills any gap (after a reconnect, or a lost message) from
// global-chat:recent before going on, so its handler sees each cached
// message once, in order.
type Bus struct {
	client   *goredis.Client
	recent   int
	spoolMax int
	fill     func(ctx context.Context, after int64, limit int) ([]globalchat.Message, error)
	release  chan int64 // seqs stored, to drop from the spool
	timeout  time.Duration
	log      *slog.Logger
	publish  *goredis.Script
	ensure   *goredis.Script
	batch    *batch.Batcher[*publishReq]

	// floor is the highest seq this instance published, delivered or was
	// told about: Publish asks for a seq above it, so that a Redis that
	// restarted empty does not hand out numbers already used.
	floor atomic.Int64

	ctx    context.Context // canceled by Close
	cancel context.CancelFunc

	mu     sync.Mutex
	sub    *subscriber
	closed bool
}

// NewBus returns a Bus on client, which the caller keeps and closes.
func NewBus(client *goredis.Client, opts BusOptions) *Bus {
	if opts.Recent <= 0 {
		opts.Recent = 1000
	}
	if opts.Timeout <= 0 {
		opts.Timeout = defaultTimeout
	}
	if opts.SpoolMax <= 0 {
		opts.SpoolMax = 100_000
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &Bus{
		client:   client,
		recent:   opts.Recent,
		spoolMax: opts.SpoolMax,
		fill:     opts.Fill,
		release:  make(chan int64, releaseQueue),
		timeout:  opts.Timeout,
		log:      opts.Logger,
		publish:  loadScript("publish"),
		ensure:   loadScript("ensure_seq"),
		ctx:      ctx,
		cancel:   cancel,
	}
	b.batch = batch.New(b.publishBatch, batch.Options{})
	go b.releaseLoop()
	return b
}

// Publish implements globalchat.Bus. It assigns an ID when msg has none
// and CreatedAt when it is zero. Publishing a message ID again returns the
// first one as a duplicate, so a retried call cannot publish twice.
//
// Concurrent calls share one round trip: a batcher hands everything
// pending to one run of publish.lua (see publishBatch).
func (b *Bus) Publish(ctx context.Context, msg globalchat.Message) (globalchat.Message, bool, error) {
	if msg.ID == "" {
		msg.ID = uuid.NewString()
	}
	if msg.CreatedAt.IsZero() {
		msg.CreatedAt = time.Now().UTC()
	}
	if err := b.waitReady(ctx); err != nil {
		return globalchat.Message{}, false, err
	}
	head, tail, err := splitSeq(msg)
	if err != nil {
		return globalchat.Message{}, false, err
	}
	req := &publishReq{idKey: keyMessage(msg.ID), clientKey: keyMessage(msg.ID), head: head, tail: tail}
	if msg.ClientMsgID != "" {
		req.clientKey = keyClientMsg(msg.UserID, msg.ClientMsgID)
	}
	if err := b.batch.Do(ctx, req); err != nil {
		return globalchat.Message{}, false, batchError("publish", err)
	}
	if req.err != nil {
		return globalchat.Message{}, false, req.err
	}
	raise(&b.floor, req.stored.Seq)
	req.stored.Spooled = true
	return req.stored, req.duplicate, nil
}

// publishReq is one message of a publish batch and, once committed, what
// became of it.
type publishReq struct {
	idKey, clientKey string // the client key is idKey when there is no client id
	head, tail       string // the JSON around the seq (splitSeq)

	stored    globalchat.Message
	duplicate bool
	err       error
}

// publishBatch publishes a batch with one run of publish.lua. The script
// is given a deadline before the call's own timeout: a Redis that freezes
// (SIGSTOP, a long fork) and runs it later finds it expired and publishes
// nothing, so a caller told "unavailable" was told the truth.
func (b *Bus) publishBatch(ctx context.Context, reqs []*publishReq) error {
	keys := make([]string, 0, 3+2*len(reqs))
	args := make([]any, 0, 6+2*len(reqs))
	deadline := time.Now().Add(b.timeout * 3 / 4).UnixMilli()
	keys = append(keys, keySeq, keyRecent, keySpool)
	args = append(args, b.recent, int(messageTTL/time.Second), channelMessages, b.floor.Load(), deadline, b.spoolMax)
	for _, r := range reqs {
		keys = append(keys, r.idKey, r.clientKey)
		args = append(args, r.head, r.tail)
	}
	ctx, cancel := withTimeout(ctx, b.timeout)
	defer cancel()
	res, err := b.publish.Run(ctx, b.client, keys, args...).Slice()
	if err != nil {
		return unavailable("publish", err)
	}
	if len(res) != 2*len(reqs) {
		return fmt.Errorf("redis: publish: %d replies for %d messages", len(res)/2, len(reqs))
	}
	for i, r := range reqs {
		status, _ := res[2*i].(int64)
		switch status {
		case -1:
			r.err = fmt.Errorf("redis: publish: the spool holds %d messages the store has not taken: %w: %w",
				b.spoolMax, globalchat.ErrUnavailable, globalchat.ErrOverloaded)
			continue
		case -2:
			r.err = fmt.Errorf("redis: publish: Redis ran the publish after its deadline: %w", globalchat.ErrUnavailable)
			continue
		}
		r.duplicate = status != 1
		r.stored, r.err = decodeMessage(res[2*i+1])
		if r.err != nil {
			r.err = fmt.Errorf("redis: publish: %w", r.err)
		}
	}
	return nil
}

// splitSeq encodes msg around its seq: the script puts the seq between
// head and tail. The id is the first field and a JSON string, whose quotes
// inside are escaped, so the first `,"seq":0,` is the seq field.
func splitSeq(msg globalchat.Message) (head, tail string, err error) {
	msg.Seq = 0
	b, err := json.Marshal(msg)
	if err != nil {
		return "", "", fmt.Errorf("redis: encode message: %w", err)
	}
	const field = `,"seq":`
	i := bytes.Index(b, []byte(field+"0,"))
	if i < 0 {
		return "", "", fmt.Errorf("redis: encode message: no seq field in %s", b)
	}
	return string(b[:i+len(field)]), string(b[i+len(field)+1:]), nil
}

func decodeMessage(v any) (globalchat.Message, error) {
	s, ok := v.(string)
	if !ok {
		return globalchat.Message{}, fmt.Errorf("message is a %T, not a string", v)
	}
	var m globalchat.Message
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return globalchat.Message{}, fmt.Errorf("decode message: %w", err)
	}
	return m, nil
}

// raise sets v to max(v, seq).
func raise(v *atomic.Int64, seq int64) {
	for {
		cur := v.Load()
		if seq <= cur || v.CompareAndSwap(cur, seq) {
			return
		}
	}
}

// Recent implements globalchat.Bus.
func (b *Bus) Recent(ctx context.Context, before int64, limit int) ([]globalchat.Message, error) {
	if limit <= 0 {
		return nil, nil
	}
	maxScore := "+inf"
	if before > 0 {
		maxScore = "(" + strconv.FormatInt(before, 10)
	}
	ctx, cancel := withTimeout(ctx, b.timeout)
	defer cancel()
	//lint:ignore SA1019 ZREVRANGEBYSCORE runs on every Redis; ZRANGE BYSCORE REV needs 6.2
	vals, err := b.client.ZRevRangeByScore(ctx, keyRecent, &goredis.ZRangeBy{
		Min: "-inf", Max: maxScore, Count: int64(limit),
	}).Result()
	if err != nil {
		return nil, unavailable("recent", err)
	}
	msgs := make([]globalchat.Message, 0, len(vals))
	for i := len(vals) - 1; i >= 0; i-- {
		m, err := decodeMessage(vals[i])
		if err != nil {
			return nil, fmt.Errorf("redis: recent: %w", err)
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// Since implements globalchat.Bus. The answer is complete when the first
// message returned follows after directly, or when nothing follows after
// and after is not beyond the room's seq.
func (b *Bus) Since(ctx context.Context, after int64, limit int) ([]globalchat.Message, bool, error) {
	ctx, cancel := withTimeout(ctx, b.timeout)
	defer cancel()
	var seqCmd *goredis.StringCmd
	var rangeCmd *goredis.StringSliceCmd
	_, err := b.client.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		seqCmd = p.Get(ctx, keySeq)
		rangeCmd = p.ZRangeByScore(ctx, keyRecent, &goredis.ZRangeBy{
			Min: "(" + strconv.FormatInt(after, 10), Max: "+inf", Count: int64(max(limit, 1)),
		})
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, false, unavailable("since", err)
	}
	last, _ := strconv.ParseInt(seqCmd.Val(), 10, 64)
	msgs := make([]globalchat.Message, 0, len(rangeCmd.Val()))
	for _, v := range rangeCmd.Val() {
		m, err := decodeMessage(v)
		if err != nil {
			return nil, false, fmt.Errorf("redis: since: %w", err)
		}
		msgs = append(msgs, m)
	}
	if len(msgs) == 0 {
		return nil, after >= 0 && after <= last, nil
	}
	complete := msgs[0].Seq == after+1
	if limit <= 0 {
		return nil, complete, nil
	}
	return msgs, complete, nil
}

// EnsureSeq implements globalchat.Bus.
func (b *Bus) EnsureSeq(ctx context.Context, seq int64) error {
	ctx, cancel := withTimeout(ctx, b.timeout)
	defer cancel()
	if err := b.ensure.Run(ctx, b.client, []string{keySeq, keyRecent}, seq).Err(); err != nil {
		return unavailable("ensure seq", err)
	}
	raise(&b.floor, seq)
	return nil
}

// Ping reports whether Redis answers on the message path's connections.
func (b *Bus) Ping(ctx context.Context) error {
	ctx, cancel := withTimeout(ctx, b.timeout)
	defer cancel()
	if err := b.client.Ping(ctx).Err(); err != nil {
		return unavailable("ping", err)
	}
	return nil
}

// Close implements globalchat.Bus: it stops the subscriber. A handler
// call in progress may finish after Close returns.
func (b *Bus) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	b.batch.Close()
	b.cancel()
	if b.sub != nil {
		b.sub.stop()
	}
	return nil
}
