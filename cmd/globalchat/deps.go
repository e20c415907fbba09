package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/globalchat/globalchat"
	"github.com/globalchat/globalchat/bandwidth"
	"github.com/globalchat/globalchat/chat"
	"github.com/globalchat/globalchat/failover"
	"github.com/globalchat/globalchat/inmem"
	"github.com/globalchat/globalchat/internal/swap"
	"github.com/globalchat/globalchat/mysql"
	"github.com/globalchat/globalchat/redis"
	"github.com/globalchat/globalchat/socketio"
	"github.com/globalchat/globalchat/sqlite"
)

// deps are the implementations of the domain interfaces this process
// runs on: embedded (SQLite, memory) or production (MySQL, Redis).
type deps struct {
	// state is the instance's mode (Redis away, store away), set by the
	// components that see a dependency fail and read when acting.
	state *globalchat.State
	// redisOn says whether presence, sessions and the adapter are on
	// Redis (not yet when Redis did not answer at start).
	redisOn  atomic.Bool
	redisBus *redis.Bus // the spool's owner, in Redis mode
	store    globalchat.MessageStore
	bus      globalchat.Bus
	presence globalchat.Presence
	limiter  globalchat.RateLimiter
	typing   globalchat.Typing
	sessions socketio.SessionStore
	adapter  socketio.Adapter
	checks   map[string]globalchat.Checker
	// bandwidth keeps the traffic accounting: in Redis once configured.
	bandwidth bandwidth.Store
	closers   []func() error
	// onUserLeft hands the chat's announcer to presence implementations
	// that discover departures themselves (a dead instance's users).
	onUserLeft func(func(globalchat.User, int))
	userLeft   atomic.Pointer[func(globalchat.User, int)]
	// sessionsLost saves the recovery sessions of every connected socket
	// again: Redis lost them, or they were kept in memory until now.
	sessionsLost atomic.Pointer[func()]
	// chat is the service, once built (the replayer asks it how far it
	// delivered).
	chat atomic.Pointer[chat.Service]
	// swaps are set while Redis has not answered yet.
	swaps *swaps
	mu    sync.Mutex // guards closers once running
}

func openDeps(ctx context.Context, cfg config, log *slog.Logger, state *globalchat.State) (*deps, error) {
	d := &deps{state: state, checks: map[string]globalchat.Checker{}}
	d.onUserLeft = func(f func(globalchat.User, int)) { d.userLeft.Store(&f) }
	if err := d.openStore(ctx, cfg, log); err != nil {
		return nil, err
	}
	var err error
	if cfg.RedisURL != "" {
		err = d.openRedis(ctx, cfg, log)
	} else {
		bus := inmem.NewBus(inmem.BusOptions{Logger: log})
		d.closers = append(d.closers, bus.Close)
		d.bus = bus
		d.openMemory(cfg)
	}
	if err == nil && !d.state.StoreAway() {
		err = seedSeq(ctx, d.bus, d.store)
	}
	if err != nil {
		d.close()
		return nil, err
	}
	if pending, ok := d.store.(*pendingStore); ok {
		pending.start(cfg.MySQLDSN, log, func(s *mysql.Store) {
			// The store's seqs may be ahead of Redis's (Redis lost its data
			// meanwhile): the bus continues after them.
			if err := seedSeq(context.Background(), d.bus, s); err != nil {
				log.Warn("mysql open, but the seq could not be raised to its last", "err", err)
			}
		})
	}
	return d, nil
}

// openStore opens MySQL when configured, SQLite otherwise. A MySQL that
// does not answer at start is waited for in the background when Redis is
// configured (its spool holds the messages meanwhile); without Redis
// nothing could hold them, and the start fails.
func (d *deps) openStore(ctx context.Context, cfg config, log *slog.Logger) error {
	if cfg.MySQLDSN != "" {
		store, err := mysql.Open(ctx, cfg.MySQLDSN, log)
		switch {
		case err == nil:
			d.store, d.checks["mysql"] = store, store
			d.closers = append(d.closers, store.Close)
			return nil
		case cfg.RedisURL == "" || !storeUnreachable(err):
			return fmt.Errorf("MYSQL_DSN: %w", err)
		}
		log.Warn("mysql unreachable at start: messages wait in the Redis spool; retrying", "err", err)
		d.state.SetStoreAway(true, err)
		pending := newPending()
		d.store, d.checks["mysql"] = pending, pending
		d.closers = append(d.closers, pending.Close)
		return nil
	}
	store, err := sqlite.Open(ctx, cfg.SQLitePath, log)
	if err != nil {
		return err
	}
	d.store, d.checks["sqlite"] = store, store
	d.closers = append(d.closers, store.Close)
	return nil
}

// openMemory sets up the single-instance state but the bus: presence,
// rate limits, sessions and adapter in memory.
func (d *deps) openMemory(cfg config) {
	d.presence = inmem.NewPresence()
	d.typing = inmem.NewTyping()
	d.limiter = inmem.NewRateLimiter(cfg.RatePerMinute, nil).WithWindow(cfg.RateWindow)
	d.sessions = socketio.NewMemorySessions()
	d.adapter = socketio.LocalAdapter{}
}

// openRedis sets up the state shared by every instance. When Redis does
// not answer at start, the server runs on in-memory state (one instance,
// as the reference design's error handling says), retries in the
// background and moves to Redis once it answers.
func (d *deps) openRedis(ctx context.Context, cfg config, log *slog.Logger) error {
	// go-redis logs dial failures itself, process-wide: into our logger,
	// at debug, since the health tracker reports the status changes.
	goredis.SetLogger(redisLogger{log})
	client, err := redis.NewClient(cfg.RedisURL, cfg.RedisTLS)
	if err != nil {
		return fmt.Errorf("REDIS_URL, REDIS_CA_FILE, REDIS_CERT_FILE, REDIS_KEY_FILE: %w", err)
	}
	// The message path gets a client of its own, so that a storm of
	// connections, each registering its presence and session, cannot
	// queue messages behind it in one connection pool.
	msgClient, _ := redis.NewClient(cfg.RedisURL, cfg.RedisTLS)
	cfg.redisMetrics.Instrument(client, "flows")
	cfg.redisMetrics.Instrument(msgClient, "messages")
	d.closers = append(d.closers, client.Close, msgClient.Close)
	clients := redisClients{flows: client, messages: msgClient}
	d.bandwidth = redis.NewBandwidth(client, cfg.AccountInterval, cfg.AccountWindow)
	d.checks["redis"] = d.redisCheck(client)
	err = redis.Ping(ctx, client)
	if err != nil && !errors.Is(err, globalchat.ErrUnavailable) {
		return fmt.Errorf("REDIS_URL: %w", err) // a mistake, not an outage
	}
	d.openBus(ctx, msgClient, err != nil, log)
	if policy := redis.EvictionPolicy(ctx, client); err == nil && policy != "" && policy != "noeviction" {
		log.Warn("redis evicts keys when full (maxmemory-policy "+policy+"): it could drop the spool, the seq counter or recovery sessions; set noeviction (deploy/redis.conf)",
			"maxmemory-policy", policy)
	}
	if err == nil {
		d.redisOn.Store(true)
		return d.useRedis(ctx, clients, cfg, log)
	}
	log.Warn("redis unreachable at start: running on in-memory state (this instance alone) and retrying", "err", err)
	d.waitForRedis(clients, cfg, log)
	return nil
}

// redisCheck is the readiness check of Redis: it answers, and the
// instance is on it.
func (d *deps) redisCheck(client *goredis.Client) checkFunc {
	return func(ctx context.Context) error {
		if err := redis.Ping(ctx, client); err != nil {
			return err
		}
		if !d.redisOn.Load() {
			return errors.New("redis answers; still on in-memory state, switching")
		}
		if d.state.RedisAway() {
			return errors.New("redis answers; messages still go through the store, moving back")
		}
		return nil
	}
}

// waitForRedis runs the instance on in-memory state behind forwarders,
// and retries Redis in the background until it can switch them to it.
func (d *deps) waitForRedis(clients redisClients, cfg config, log *slog.Logger) {
	d.openMemory(cfg)
	d.swaps = &swaps{
		presence: swap.NewPresence(d.presence), limiter: swap.NewRateLimiter(d.limiter),
		sessions: swap.NewSessions(d.sessions), adapter: swap.NewAdapter(d.adapter),
		memPresence: d.presence.(*inmem.Presence), typing: swap.NewTyping(d.typing),
	}
	d.presence, d.limiter = d.swaps.presence, d.swaps.limiter
	d.sessions, d.adapter = d.swaps.sessions, d.swaps.adapter
	d.typing = d.swaps.typing
	retry, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	d.closers = append(d.closers, func() error { cancel(); <-done; return nil })
	go func() {
		defer close(done)
		d.retryRedis(retry, clients, cfg, log)
	}()
}

// openBus sets up the message bus of Redis mode: the Redis bus, behind
// the failover to the store while Redis is away, and the spool's drain.
func (d *deps) openBus(ctx context.Context, client *goredis.Client, away bool, log *slog.Logger) {
	rb := redis.NewBus(client, redis.BusOptions{
		Timeout: failover.PublishTimeout, Fill: d.store.After, Logger: log,
	})
	d.redisBus = rb
	d.bus = rb
	if seq, ok := d.store.(globalchat.Sequencer); ok {
		d.bus = failover.New(failover.Options{Primary: rb, Store: seq, State: d.state, Logger: log, StartAway: away})
	}
	drain, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		rb.DrainSpool(drain, d.store, func(n int) { log.Info("spool drained into the store", "messages", n) })
	}()
	d.closers = append(d.closers, d.bus.Close, func() error { stop(); <-done; return nil })
}

// redisClients are the connection pools to Redis: one for the message
// path (bus, rate limiter), one for connection flows and the rest.
type redisClients struct{ flows, messages *goredis.Client }

// useRedis builds the Redis implementations on clients that answer.
func (d *deps) useRedis(ctx context.Context, clients redisClients, cfg config, log *slog.Logger) error {
	id := cfg.instanceID()
	client := clients.flows
	presence := redis.NewPresence(client, redis.PresenceOptions{
		InstanceID: id, Logger: log,
		OnLeft: func(u globalchat.User, count int) {
			if f := d.userLeft.Load(); f != nil {
				(*f)(u, count)
			}
		},
		OnLost: d.resaveSessions,
	})
	if err := presence.Start(ctx); err != nil {
		return err
	}
	limiter := redis.NewRateLimiter(clients.messages, cfg.RatePerMinute, redis.RateLimiterOptions{Window: cfg.RateWindow})
	sessions := redis.NewSessionStore(client, "")
	d.mu.Lock()
	d.closers = append(d.closers, presence.Close, limiter.Close, sessions.Close)
	d.mu.Unlock()
	d.presence, d.sessions = presence, sessions
	d.typing = redis.NewTyping(client)
	d.limiter = &failover.RateLimiter{Primary: limiter, Fallback: inmem.NewRateLimiter(cfg.RatePerMinute, nil).WithWindow(cfg.RateWindow)}
	d.adapter = redis.NewAdapter(client, redis.AdapterOptions{InstanceID: id, Logger: log})
	return nil
}

// swaps are the forwarding implementations of a server waiting for Redis.
type swaps struct {
	presence    *swap.Presence
	limiter     *swap.RateLimiter
	sessions    *swap.Sessions
	adapter     *swap.Adapter
	typing      *swap.Typing
	memPresence *inmem.Presence
}

// retryRedis pings Redis with a growing pause until it answers, then moves
// the running server onto it.
func (d *deps) retryRedis(ctx context.Context, clients redisClients, cfg config, log *slog.Logger) {
	pause := time.Second
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, 15*time.Second)
		if redis.Ping(ctx, clients.flows) != nil {
			continue
		}
		if err := d.switchToRedis(ctx, clients, cfg, log); err != nil {
			log.Warn("redis answers but the switch failed; retrying", "err", err)
			continue
		}
		log.Info("redis reachable: switched from in-memory state to Redis")
		return
	}
}

// switchToRedis moves the running server's presence, rate limits,
// sessions and adapter to Redis: the connections of this instance are
// registered in the shared presence, then each forwarder points at Redis.
// (The bus moves by itself: see package failover.)
func (d *deps) switchToRedis(ctx context.Context, clients redisClients, cfg config, log *slog.Logger) error {
	next := &deps{checks: map[string]globalchat.Checker{}}
	next.userLeft.Store(d.userLeft.Load())
	next.sessionsLost.Store(d.sessionsLost.Load())
	if err := next.useRedis(ctx, clients, cfg, log); err != nil {
		return err
	}
	s := d.swaps
	var err error
	for _, c := range s.memPresence.Conns() {
		if _, _, err = next.presence.Add(ctx, c); err != nil {
			break
		}
	}
	if err == nil {
		var old socketio.Adapter
		if old, err = s.adapter.Swap(ctx, next.adapter); err == nil {
			old.Close()
		}
	}
	if err != nil {
		next.close()
		return err
	}
	s.presence.Swap(next.presence)
	s.limiter.Swap(next.limiter)
	s.sessions.Swap(next.sessions)
	s.typing.Swap(next.typing)
	d.mu.Lock()
	d.closers = append(d.closers, next.closers...)
	d.mu.Unlock()
	d.redisOn.Store(true)
	d.resaveSessions()
	return nil
}

// resaveSessions writes every connected socket's recovery session again,
// in the background.
func (d *deps) resaveSessions() {
	if f := d.sessionsLost.Load(); f != nil {
		go (*f)()
	}
}

// redisLogger routes go-redis's own log lines to slog.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "go-redis: "+fmt.Sprintf(format, v...))
}

// checkFunc is a readiness check.
type checkFunc func(ctx context.Context) error

func (f checkFunc) Ping(ctx context.Context) error { return f(ctx) }

// delivered is the highest seq the chat delivered; before the chat is
// built, nothing is delivered to anyone, and a replay is not capped.
func (d *deps) delivered() int64 {
	if svc := d.chat.Load(); svc != nil {
		return svc.Delivered()
	}
	return math.MaxInt64
}

// recent gives a replay the chat's memory of what it delivered, which
// holds nothing before the chat is built.
func (d *deps) recent(after, upTo int64) ([]globalchat.Message, bool) {
	if svc := d.chat.Load(); svc != nil {
		return svc.Recent(after, upTo)
	}
	return nil, false
}

// modeName names what the instance runs on, for logs.
func (d *deps) modeName() string {
	switch {
	case d.redisBus == nil:
		return "embedded (one instance, in memory)"
	case !d.redisOn.Load():
		return "redis configured, waiting for it (in memory meanwhile): " + d.state.Mode().String()
	}
	return "redis: " + d.state.Mode().String()
}

// seedSeq makes the bus continue the store's sequence, so a restart (or a
// flushed Redis) never hands out a seq twice.
func seedSeq(ctx context.Context, bus globalchat.Bus, store globalchat.MessageStore) error {
	last, err := store.LastSeq(ctx)
	if err != nil {
		return err
	}
	return bus.EnsureSeq(ctx, last)
}

// close releases in reverse order of opening; the store goes last so it
// flushes what the others still handed it.
func (d *deps) close() error {
	var errs []error
	for {
		d.mu.Lock()
		n := len(d.closers)
		if n == 0 {
			d.mu.Unlock()
			return errors.Join(errs...)
		}
		f := d.closers[n-1]
		d.closers = d.closers[:n-1]
		d.mu.Unlock()
		errs = append(errs, f())
	}
}
