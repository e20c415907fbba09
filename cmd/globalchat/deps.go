package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/globalchat/globalchat"
	"github.com/globalchat/globalchat/bandwidth"
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
	mode     string
	store    globalchat.MessageStore
	bus      globalchat.Bus
	presence globalchat.Presence
	limiter  globalchat.RateLimiter
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
	// swaps are set while Redis has not answered yet.
	swaps *swaps
	mu    sync.Mutex // guards closers and mode once running
}

func openDeps(ctx context.Context, cfg config, log *slog.Logger) (*deps, error) {
	d := &deps{mode: "embedded", checks: map[string]globalchat.Checker{}}
	d.onUserLeft = func(f func(globalchat.User, int)) { d.userLeft.Store(&f) }
	if err := d.openStore(ctx, cfg, log); err != nil {
		return nil, err
	}
	var err error
	if cfg.RedisURL != "" {
		err = d.openRedis(ctx, cfg, log)
	} else {
		d.openMemory(cfg, log)
	}
	if err == nil {
		err = seedSeq(ctx, d.bus, d.store)
	}
	if err != nil {
		d.close()
		return nil, err
	}
	return d, nil
}

// openStore opens MySQL when configured, SQLite otherwise.
func (d *deps) openStore(ctx context.Context, cfg config, log *slog.Logger) error {
	if cfg.MySQLDSN != "" {
		store, err := mysql.Open(ctx, cfg.MySQLDSN, log)
		if err != nil {
			return err
		}
		d.store, d.checks["mysql"] = store, store
		d.closers = append(d.closers, store.Close)
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

// openMemory sets up the single-instance state.
func (d *deps) openMemory(cfg config, log *slog.Logger) {
	bus := inmem.NewBus(inmem.BusOptions{Logger: log})
	d.closers = append(d.closers, bus.Close)
	d.bus = bus
	d.presence = inmem.NewPresence()
	d.limiter = inmem.NewRateLimiter(cfg.RatePerMinute, nil)
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
	client, err := redis.NewClient(cfg.RedisURL)
	if err != nil {
		return err
	}
	// The message path gets a client of its own, so that a storm of
	// connections, each registering its presence and session, cannot
	// queue messages behind it in one connection pool.
	msgClient, _ := redis.NewClient(cfg.RedisURL)
	cfg.redisMetrics.Instrument(client, "flows")
	cfg.redisMetrics.Instrument(msgClient, "messages")
	d.closers = append(d.closers, client.Close, msgClient.Close)
	clients := redisClients{flows: client, messages: msgClient}
	d.bandwidth = redis.NewBandwidth(client, cfg.AccountInterval, cfg.AccountWindow)
	d.checks["redis"] = checkFunc(func(ctx context.Context) error {
		if err := redis.Ping(ctx, client); err != nil {
			return err
		}
		if d.currentMode() != "redis" {
			return errors.New("redis answers; still on in-memory state, switching")
		}
		return nil
	})
	err = redis.Ping(ctx, client)
	if err == nil {
		d.mode = "redis"
		return d.useRedis(ctx, clients, cfg, log)
	}
	log.Warn("redis unreachable at start: running on in-memory state (this instance alone) and retrying", "err", err)
	d.mode = "redis (waiting, in memory)"
	d.openMemory(cfg, log)
	d.swaps = &swaps{
		bus: swap.NewBus(d.bus), presence: swap.NewPresence(d.presence), limiter: swap.NewRateLimiter(d.limiter),
		sessions: swap.NewSessions(d.sessions), adapter: swap.NewAdapter(d.adapter),
		memBus: d.bus, memPresence: d.presence.(*inmem.Presence),
	}
	d.bus, d.presence, d.limiter = d.swaps.bus, d.swaps.presence, d.swaps.limiter
	d.sessions, d.adapter = d.swaps.sessions, d.swaps.adapter
	retry, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	d.closers = append(d.closers, func() error { cancel(); <-done; return nil })
	go func() {
		defer close(done)
		d.retryRedis(retry, clients, cfg, log)
	}()
	return nil
}

// redisClients are the connection pools to Redis: one for the message
// path (bus, rate limiter), one for connection flows and the rest.
type redisClients struct{ flows, messages *goredis.Client }

// useRedis builds the Redis implementations on clients that answer.
func (d *deps) useRedis(ctx context.Context, clients redisClients, cfg config, log *slog.Logger) error {
	id := cfg.instanceID()
	client := clients.flows
	bus := redis.NewBus(clients.messages, redis.BusOptions{Logger: log})
	presence := redis.NewPresence(client, redis.PresenceOptions{
		InstanceID: id, Logger: log,
		OnLeft: func(u globalchat.User, count int) {
			if f := d.userLeft.Load(); f != nil {
				(*f)(u, count)
			}
		},
	})
	if err := presence.Start(ctx); err != nil {
		bus.Close()
		return err
	}
	limiter := redis.NewRateLimiter(clients.messages, cfg.RatePerMinute)
	sessions := redis.NewSessionStore(client, "")
	d.mu.Lock()
	d.closers = append(d.closers, bus.Close, presence.Close, limiter.Close, sessions.Close)
	d.mu.Unlock()
	d.bus, d.presence, d.limiter, d.sessions = bus, presence, limiter, sessions
	d.adapter = redis.NewAdapter(client, redis.AdapterOptions{InstanceID: id, Logger: log})
	return nil
}

// swaps are the forwarding implementations of a server waiting for Redis.
type swaps struct {
	bus         *swap.Bus
	presence    *swap.Presence
	limiter     *swap.RateLimiter
	sessions    *swap.Sessions
	adapter     *swap.Adapter
	memBus      globalchat.Bus
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

// switchToRedis moves the running server to Redis: the sequence goes on
// from the highest seq handed out, the connections of this instance are
// registered in the shared presence, then each forwarder points at Redis.
func (d *deps) switchToRedis(ctx context.Context, clients redisClients, cfg config, log *slog.Logger) error {
	next := &deps{checks: map[string]globalchat.Checker{}}
	next.userLeft.Store(d.userLeft.Load())
	if err := next.useRedis(ctx, clients, cfg, log); err != nil {
		return err
	}
	s := d.swaps
	last, err := d.store.LastSeq(ctx)
	if err == nil {
		var recent []globalchat.Message
		recent, err = s.memBus.Recent(ctx, 0, 1)
		if len(recent) > 0 {
			last = max(last, recent[0].Seq)
		}
	}
	if err == nil {
		err = next.bus.EnsureSeq(ctx, last)
	}
	for _, c := range s.memPresence.Conns() {
		if err != nil {
			break
		}
		_, _, err = next.presence.Add(ctx, c)
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
	s.bus.Swap(next.bus).Close()
	s.presence.Swap(next.presence)
	s.limiter.Swap(next.limiter)
	s.sessions.Swap(next.sessions)
	d.mu.Lock()
	d.closers = append(d.closers, next.closers...)
	d.mode = "redis"
	d.mu.Unlock()
	return nil
}

// redisLogger routes go-redis's own log lines to slog.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "go-redis: "+fmt.Sprintf(format, v...))
}

// checkFunc is a readiness check.
type checkFunc func(ctx context.Context) error

func (f checkFunc) Ping(ctx context.Context) error { return f(ctx) }

func (d *deps) currentMode() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.mode
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
