package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/globalchat/globalchat"
	"github.com/globalchat/globalchat/mysql"
)

// errStorePending is what a store that has not opened yet answers.
var errStorePending = fmt.Errorf("mysql: not reachable since start: %w", globalchat.ErrUnavailable)

var (
	_ globalchat.MessageStore = (*pendingStore)(nil)
	_ globalchat.Sequencer    = (*pendingStore)(nil)
)

// pendingStore stands for a MySQL store that did not answer at start, in
// Redis mode: the instance starts, messages are acknowledged once in the
// Redis spool, and the store is opened in the background; until then
// every call answers unavailable, as a store that is down does.
type pendingStore struct {
	cur  atomic.Pointer[mysql.Store]
	stop context.CancelFunc
	done chan struct{}
}

// newPending returns a store that answers unavailable until start opens it.
func newPending() *pendingStore {
	p := &pendingStore{stop: func() {}, done: make(chan struct{})}
	close(p.done)
	return p
}

// start retries mysql.Open every two seconds until it succeeds or Close
// is called; onOpen runs once it is open, before any call reaches it.
func (p *pendingStore) start(dsn string, log *slog.Logger, onOpen func(*mysql.Store)) {
	ctx, stop := context.WithCancel(context.Background())
	p.stop, p.done = stop, make(chan struct{})
	go func() {
		defer close(p.done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(2 * time.Second):
			}
			s, err := mysql.Open(ctx, dsn, log)
			if err != nil {
				log.Debug("mysql still unreachable", "err", err)
				continue
			}
			onOpen(s)
			p.cur.Store(s)
			log.Info("mysql reachable: the store is open")
			return
		}
	}()
}

func (p *pendingStore) get() (*mysql.Store, error) {
	if s := p.cur.Load(); s != nil {
		return s, nil
	}
	return nil, errStorePending
}

func (p *pendingStore) Save(ctx context.Context, msgs ...globalchat.Message) error {
	s, err := p.get()
	if err != nil {
		return err
	}
	return s.Save(ctx, msgs...)
}

func (p *pendingStore) Before(ctx context.Context, before int64, limit int) ([]globalchat.Message, error) {
	s, err := p.get()
	if err != nil {
		return nil, err
	}
	return s.Before(ctx, before, limit)
}

func (p *pendingStore) After(ctx context.Context, after int64, limit int) ([]globalchat.Message, error) {
	s, err := p.get()
	if err != nil {
		return nil, err
	}
	return s.After(ctx, after, limit)
}

func (p *pendingStore) LastSeq(ctx context.Context) (int64, error) {
	s, err := p.get()
	if err != nil {
		return 0, err
	}
	return s.LastSeq(ctx)
}

func (p *pendingStore) Ping(ctx context.Context) error {
	s, err := p.get()
	if err != nil {
		return err
	}
	return s.Ping(ctx)
}

func (p *pendingStore) Append(ctx context.Context, epoch int64, msgs ...globalchat.Message) ([]globalchat.Appended, error) {
	s, err := p.get()
	if err != nil {
		return nil, err
	}
	return s.Append(ctx, epoch, msgs...)
}

func (p *pendingStore) Fence(ctx context.Context, next int64) (int64, int64, error) {
	s, err := p.get()
	if err != nil {
		return 0, 0, err
	}
	return s.Fence(ctx, next)
}

func (p *pendingStore) Return(ctx context.Context, epoch, gap int64) (int64, error) {
	s, err := p.get()
	if err != nil {
		return 0, err
	}
	return s.Return(ctx, epoch, gap)
}

// Close stops the retries and closes the store if it opened.
func (p *pendingStore) Close() error {
	p.stop()
	<-p.done
	if s := p.cur.Load(); s != nil {
		return s.Close()
	}
	return nil
}

// storeUnreachable tells an outage (wait for it) from a mistake (stop).
func storeUnreachable(err error) bool { return errors.Is(err, globalchat.ErrUnavailable) }
