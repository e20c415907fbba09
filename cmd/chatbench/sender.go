package main

import (
	"bytes"
	"context"
	"strconv"
	"sync"
	"time"
)

// ackWait is how long the sender waits for an ack before it gives the
// connection up and sends again on a new one.
const ackWait = 5 * time.Second

// sender is the redeploy's sender: one user (its guest token kept across
// connections) who sends at a steady rate and, like a client with a retry
// queue, sends a message again with the same clientMsgId on a new
// connection when its connection ends before the ack: the server stores
// and broadcasts it once. A message is counted only once acked.
type sender struct {
	b  *bench
	st *churnState

	conn *Client
	done chan struct{}  // closed when conn has ended
	acks chan ackPacket // conn's acks

	mu    sync.Mutex
	token string

	retries int // sends made again on a new connection
	unacked int // messages given up after cfg.Timeout without an ack
}

type ackPacket struct {
	id  uint64
	pkt []byte
}

// dial connects through cfg.URLs[0] as the same guest user each time.
func (s *sender) dial(ctx context.Context) error {
	auth := s.b.auth("redeploy-s", 0)
	s.mu.Lock()
	if s.token != "" {
		auth["guestToken"] = s.token
	}
	s.mu.Unlock()
	conn, err := Dial(ctx, DialOptions{URL: s.b.cfg.URLs[0], LocalIP: s.b.srcIP(0), Auth: auth, Timeout: s.b.cfg.Timeout})
	if err != nil {
		return err
	}
	acks, done := make(chan ackPacket, 8), make(chan struct{})
	go func() {
		conn.Run(func(pkt []byte) { s.onPacket(pkt, acks) })
		close(done)
	}()
	s.conn, s.done, s.acks = conn, done, acks
	return nil
}

// onPacket passes acks on and keeps the guest token.
func (s *sender) onPacket(pkt []byte, acks chan<- ackPacket) {
	if id, _, ok := ackOf(pkt); ok {
		select {
		case acks <- ackPacket{id, bytes.Clone(pkt)}:
		default: // an ack nobody waits for any more
		}
		return
	}
	if token := guestToken(pkt); token != "" {
		s.mu.Lock()
		s.token = token
		s.mu.Unlock()
	}
}

// run sends message i when it is due (i periods after the start, or at
// once when a retry made it late) until stop.
func (s *sender) run(ctx context.Context, stop <-chan struct{}) {
	period := time.Duration(float64(time.Second) / s.b.cfg.Rates[0])
	start := time.Now()
	for i := 0; ; i++ {
		t := time.NewTimer(time.Until(start.Add(time.Duration(i) * period)))
		select {
		case <-t.C:
		case <-stop:
			t.Stop()
			return
		case <-ctx.Done():
			t.Stop()
			return
		}
		s.send(ctx, i)
	}
}

// send sends message i until it is acked (or refused: an ack that is not
// ok), on new connections as needed, for at most cfg.Timeout.
func (s *sender) send(ctx context.Context, i int) {
	arg := messageArg{Content: content(s.b.run, 0, time.Now(), "redeploy"), ClientMsgID: s.b.run + "-" + strconv.Itoa(i)}
	s.st.sent.Add(1)
	deadline := time.Now().Add(s.b.cfg.Timeout)
	sent := false
	for attempt := 0; time.Now().Before(deadline) && ctx.Err() == nil; attempt++ {
		if !s.connected(ctx) {
			sleepCtx(ctx, backoff(s.b.cfg.ReconnectDelay, attempt))
			continue
		}
		if sent {
			s.retries++
		}
		sent = true
		if s.try(arg) {
			return
		}
		s.close() // ended, or no ack in time: a new connection
	}
	s.unacked++
}

// connected makes sure of a live connection: one that ended while the
// sender waited (the drain closes idle connections too) is replaced.
func (s *sender) connected(ctx context.Context) bool {
	if s.conn != nil {
		select {
		case <-s.done:
			s.close()
		default:
			return true
		}
	}
	return s.dial(ctx) == nil
}

// try sends once and waits for the ack.
func (s *sender) try(arg messageArg) bool {
	id, err := s.conn.EmitAck(evMessage, arg)
	if err != nil {
		return false
	}
	t := time.NewTimer(ackWait)
	defer t.Stop()
	for {
		select {
		case a := <-s.acks:
			if s.isAck(a, id) {
				return true
			}
		case <-s.done:
			return s.ackedBefore(id)
		case <-t.C:
			return false
		}
	}
}

// isAck takes a as the ack of send id, if it is.
func (s *sender) isAck(a ackPacket, id uint64) bool {
	if a.id != id {
		return false
	}
	s.st.onAck(nil, a.pkt)
	return true
}

// ackedBefore looks for send id's ack among those that arrived before
// the connection ended: the drain closes a connection right after the
// ack of the message it is handling.
func (s *sender) ackedBefore(id uint64) bool {
	for {
		select {
		case a := <-s.acks:
			if s.isAck(a, id) {
				return true
			}
		default:
			return false
		}
	}
}

// close ends the current connection, if any.
func (s *sender) close() {
	if s.conn == nil {
		return
	}
	s.conn.Close()
	<-s.done
	s.conn = nil
}
