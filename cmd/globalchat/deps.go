package main

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"

	goredis "github.com/redis/go-redis/v9"

	"github.com/globalchat/globalchat"
	"github.com/globalchat/globalchat/inmem"
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
	closers  []func() error
	// onUserLeft hands the chat's announcer to presence implementations
	// that discover departures themselves (a dead instance's users).
	onUserLeft func(func(globalchat.User, int))
	userLeft   atomic.Pointer[func(globalchat.User, int)]
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
	d.sessions = inmem.NewSessionStore()
	d.adapter = socketio.LocalAdapter{}
}

// openRedis sets up the state shared by every instance.
func (d *deps) openRedis(ctx context.Context, cfg config, log *slog.Logger) error {
	client, err := redis.Open(ctx, cfg.RedisURL)
	if err != nil {
		return err
	}
	d.mode = "redis"
	d.closers = append(d.closers, client.Close)
	d.checks["redis"] = pinger{client}
	id := cfg.instanceID()
	bus := redis.NewBus(client, redis.BusOptions{Logger: log})
	d.closers = append(d.closers, bus.Close)
	presence := redis.NewPresence(client, redis.PresenceOptions{
		InstanceID: id, Logger: log,
		OnLeft: func(u globalchat.User, count int) {
			if f := d.userLeft.Load(); f != nil {
				(*f)(u, count)
			}
		},
	})
	if err := presence.Start(ctx); err != nil {
		return err
	}
	d.closers = append(d.closers, presence.Close)
	d.bus, d.presence = bus, presence
	d.limiter = redis.NewRateLimiter(client, cfg.RatePerMinute)
	d.sessions = redis.NewSessionStore(client, "")
	d.adapter = redis.NewAdapter(client, redis.AdapterOptions{InstanceID: id, Logger: log})
	return nil
}

// pinger checks Redis for /readyz.
type pinger struct{ c *goredis.Client }

func (p pinger) Ping(ctx context.Context) error { return p.c.Ping(ctx).Err() }

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
	for i := len(d.closers) - 1; i >= 0; i-- {
		errs = append(errs, d.closers[i]())
	}
	d.closers = nil
	return errors.Join(errs...)
}
