package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	goredis "github.com/redis/go-redis/v9"

	"github.com/globalchat/globalchat/socketio"
)

var _ socketio.Adapter = (*Adapter)(nil)

// AdapterOptions configures an Adapter. Zero values take the defaults.
type AdapterOptions struct {
	InstanceID string        // this instance; default a random id
	Namespaces []string      // namespaces to receive; default {"/"}
	Timeout    time.Duration // one call to Redis; default 3s
	Logger     *slog.Logger
}

// Adapter carries Socket.IO broadcasts between instances over Redis
// pub/sub, on the channel socket.io#<namespace># of each namespace, as
// the official Socket.IO Redis adapter names them (so PUBSUB CHANNELS
// shows them). Each broadcast is a small binary envelope (envelope.go)
// holding the sending instance's id: an instance ignores its own.
//
// Broadcasts sent while an instance is disconnected from Redis are lost
// for it, as with the official adapter; chat messages are not, because
// the Bus catches up from its cache.
type Adapter struct {
	client   *goredis.Client
	opts     AdapterOptions
	channels []string
	log      *slog.Logger

	mu      sync.Mutex
	started bool
	closed  bool
	cancel  context.CancelFunc
	sub     *subscription
}

// NewAdapter returns an Adapter on client.
func NewAdapter(client *goredis.Client, opts AdapterOptions) *Adapter {
	if opts.InstanceID == "" {
		opts.InstanceID = uuid.NewString()
	}
	if len(opts.Namespaces) == 0 {
		opts.Namespaces = []string{"/"}
	}
	if opts.Timeout <= 0 {
		opts.Timeout = defaultTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	channels := make([]string, len(opts.Namespaces))
	for i, nsp := range opts.Namespaces {
		channels[i] = socketIOChannel(nsp)
	}
	return &Adapter{client: client, opts: opts, channels: channels, log: opts.Logger}
}

// Publish implements socketio.Adapter.
func (a *Adapter) Publish(ctx context.Context, b socketio.Broadcast) error {
	a.mu.Lock()
	closed := a.closed
	a.mu.Unlock()
	if closed {
		return errors.New("redis: adapter closed")
	}
	ctx, cancel := withTimeout(ctx, a.opts.Timeout)
	defer cancel()
	err := a.client.Publish(ctx, socketIOChannel(b.Namespace), encodeEnvelope(a.opts.InstanceID, b)).Err()
	return unavailable("adapter publish", err)
}

// Start implements socketio.Adapter. It returns once subscribed, or with
// an error if that does not happen before ctx ends; ctx bounds only this
// first subscription. Afterwards the adapter reconnects by itself until
// Close, calling deliver from one goroutine, one broadcast at a time.
func (a *Adapter) Start(ctx context.Context, deliver func(socketio.Broadcast)) error {
	a.mu.Lock()
	if a.started || a.closed {
		a.mu.Unlock()
		return errors.New("redis: adapter already started or closed")
	}
	a.started = true
	runCtx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	subscribed := make(chan struct{})
	var once sync.Once
	a.sub = &subscription{
		client: a.client, channels: a.channels, timeout: a.opts.Timeout, log: a.log, who: "redis adapter",
		subscribed: func(context.Context) error {
			once.Do(func() { close(subscribed) })
			return nil
		},
		message: func(_ context.Context, payload string) error {
			a.receive(payload, deliver)
			return nil
		},
	}
	a.mu.Unlock()

	go a.sub.run(runCtx)
	select {
	case <-subscribed:
		return nil
	case <-ctx.Done():
		a.Close()
		return fmt.Errorf("redis: adapter not subscribed: %w", unavailable("subscribe", ctx.Err()))
	}
}

func (a *Adapter) receive(payload string, deliver func(socketio.Broadcast)) {
	instance, b, err := decodeEnvelope([]byte(payload))
	if err != nil {
		a.log.Debug("redis adapter: foreign or malformed broadcast skipped", "err", err)
		return
	}
	if instance == a.opts.InstanceID {
		return
	}
	deliver(b)
}

// Close implements socketio.Adapter: it stops publishing and delivering.
// It does not wait for a deliver call in progress, so deliver may close
// the adapter.
func (a *Adapter) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	if a.sub != nil {
		a.sub.stop()
	}
	cancel := a.cancel
	a.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	return nil
}
