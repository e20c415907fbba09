package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Event names of the chat (README's Socket.IO contract).
const (
	evHistory  = "chat:history"
	evMessage  = "chat:message"
	evJoined   = "user:joined"
	evLeft     = "user:left"
	evPresence = "presence:update"
)

// bench holds one run: its configuration, a run id that marks this run's
// messages and users, and every connection it opened.
type bench struct {
	cfg *config
	log *slog.Logger
	run string

	mu    sync.Mutex
	peers []*peer
}

func newBench(cfg *config, log *slog.Logger) *bench {
	var id [4]byte
	_, _ = rand.Read(id[:]) // never fails (crypto/rand)
	return &bench{cfg: cfg, log: log, run: hex.EncodeToString(id[:])}
}

func (b *bench) result() *Result {
	name := b.cfg.Name
	if name == "" {
		name = b.cfg.Scenario
	}
	return &Result{
		Scenario: name, Target: b.cfg.Target, Config: b.cfg,
		Started: time.Now(), Load1: [2]float64{loadAvg(), 0},
		cpuGen: startCPU([]int{os.Getpid()}), cpuServer: startCPU(b.cfg.PIDs), cpuInfra: startCPU(b.cfg.InfraPIDs),
		steal: startSteal(),
	}
}

// peer is one connected client and what the scenarios track about it.
type peer struct {
	*Client
	n       int
	history chan struct{} // closed when chat:history arrived
	done    chan struct{} // closed when the connection ended
	err     error         // why it ended, once done is closed

	presence atomic.Int64 // user:joined, user:left, presence:update frames
	acks     chan bool    // ingest: one per ack, true when ok
}

// handler is a scenario's reaction to one packet on one peer.
type handler func(p *peer, pkt []byte)

// auth is the guest CONNECT payload: with no guest token, the server
// makes each connection a new user. The guestId is for the reference
// server, which requires one (8-64 letters, digits, _ or -); globalchat
// ignores it.
func (b *bench) auth(role string, n int) map[string]string {
	return map[string]string{"username": fmt.Sprintf("%s%d", role, n), "guestId": fmt.Sprintf("bench-%s-%s%d", b.run, role, n)}
}

// srcIP is connection n's source address, one of SrcIPs in turn, each
// in a /24 of its own (127.0.0.1, 127.0.1.1, ..., 127.0.255.1, 127.0.0.2,
// ...): the server bounds what one address may do, and nginx's ip_hash
// spreads clients by their /24.
func (b *bench) srcIP(n int) net.IP {
	i := n % b.cfg.SrcIPs
	return net.IPv4(127, 0, byte(i%256), byte(1+i/256))
}

// connect opens connection n of role to urls[n % len(urls)], starts its
// reader and waits until the history has arrived.
func (b *bench) connect(ctx context.Context, role string, n int, h handler) (*peer, error) {
	c, err := Dial(ctx, DialOptions{
		URL: b.cfg.URLs[n%len(b.cfg.URLs)], LocalIP: b.srcIP(n),
		Auth: b.auth(role, n), Timeout: b.cfg.Timeout,
	})
	if err != nil {
		return nil, err
	}
	p := &peer{Client: c, n: n, history: make(chan struct{}), done: make(chan struct{}), acks: make(chan bool, 1)}
	b.mu.Lock()
	b.peers = append(b.peers, p)
	b.mu.Unlock()
	go func() {
		var once bool
		p.err = c.Run(func(pkt []byte) {
			if !once && isEvent(pkt, evHistory) {
				once = true
				close(p.history)
			}
			if isEvent(pkt, evJoined) || isEvent(pkt, evLeft) || isEvent(pkt, evPresence) {
				p.presence.Add(1)
			}
			if h != nil {
				h(p, pkt)
			}
		})
		close(p.done)
	}()
	t := time.NewTimer(b.cfg.Timeout)
	defer t.Stop()
	select {
	case <-p.history:
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("closed before chat:history: %w", p.err)
	case <-t.C:
		c.Close()
		return nil, errors.New("no chat:history in time")
	case <-ctx.Done():
		c.Close()
		return nil, ctx.Err()
	}
}

// connectMany opens n connections of role, at most cfg.Concurrent at a
// time, and returns those that got in. With all false it stops at the
// first failure and returns an error; otherwise it keeps going and the
// error only says how many failed.
func (b *bench) connectMany(ctx context.Context, role string, n int, h handler, all bool) ([]*peer, error) {
	peers := make([]*peer, n)
	sem := make(chan struct{}, b.cfg.Concurrent)
	var wg sync.WaitGroup
	var failed atomic.Int64
	var first atomic.Value
	for i := range n {
		if ctx.Err() != nil || (all && failed.Load() > 0) {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			p, err := b.connect(ctx, role, i, h)
			if err != nil {
				if failed.Add(1) == 1 {
					first.Store(err)
				}
				return
			}
			peers[i] = p
		}()
	}
	wg.Wait()
	peers = slices.DeleteFunc(peers, func(p *peer) bool { return p == nil })
	if err := ctx.Err(); err != nil {
		if all {
			return nil, err
		}
		return peers, fmt.Errorf("%d of %d %s connections in before: %w", len(peers), n, role, err)
	}
	b.log.Info("connected", "role", role, "clients", len(peers))
	if f := failed.Load(); f > 0 {
		err := fmt.Errorf("%d %s connections failed, first: %v", f, role, first.Load())
		if all {
			return nil, err
		}
		return peers, err
	}
	return peers, nil
}

// closeAll closes every connection and waits (bounded) for the readers.
func (b *bench) closeAll() {
	b.mu.Lock()
	peers := b.peers
	b.peers = nil
	b.mu.Unlock()
	for _, p := range peers {
		p.Close()
	}
	deadline := time.After(10 * time.Second)
	for _, p := range peers {
		select {
		case <-p.done:
		case <-deadline:
			return
		}
	}
}

// alive counts the peers whose connection is still open.
func alive(peers []*peer) int {
	n := 0
	for _, p := range peers {
		select {
		case <-p.done:
		default:
			n++
		}
	}
	return n
}

// sleepCtx sleeps for d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
