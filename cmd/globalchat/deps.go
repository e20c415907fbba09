package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/globalchat/globalchat"
	"github.com/globalchat/globalchat/inmem"
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
}

func openDeps(ctx context.Context, cfg config, log *slog.Logger) (*deps, error) {
	d := &deps{mode: "embedded", checks: map[string]globalchat.Checker{}, onUserLeft: func(func(globalchat.User, int)) {}}
	store, err := sqlite.Open(ctx, cfg.SQLitePath, log)
	if err != nil {
		return nil, err
	}
	d.store = store
	d.checks["sqlite"] = store
	d.closers = append(d.closers, store.Close)

	bus := inmem.NewBus(inmem.BusOptions{Logger: log})
	d.closers = append(d.closers, bus.Close)
	if err := seedSeq(ctx, bus, store); err != nil {
		d.close()
		return nil, err
	}
	d.bus = bus
	d.presence = inmem.NewPresence()
	d.limiter = inmem.NewRateLimiter(cfg.RatePerMinute, nil)
	d.sessions = inmem.NewSessionStore()
	d.adapter = socketio.LocalAdapter{}
	return d, nil
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
	for i := len(d.closers) - 1; i >= 0; i-- {
		errs = append(errs, d.closers[i]())
	}
	d.closers = nil
	return errors.Join(errs...)
}
