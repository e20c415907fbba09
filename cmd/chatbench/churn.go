package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// churn is the dropped-connection test of issue 17: cfg.Clients receivers
// whose TCP connections are cut (closed by the client, no goodbye) every
// cfg.CutEvery, each at a phase of its own, and stay away cfg.Away before
// they come back, as the official client does, with the connection state
// recovery the server offers (the pid and the last offset it gave them);
// meanwhile one sender, never cut, sends cfg.Messages broadcasts at
// cfg.Rates[0] a second. It measures, over every (receiver, acked
// message) pair, the share delivered exactly once, the duplicates and the
// losses, and the replay latency: from a reconnect to the arrival of the
// last message acked before it that the receiver had not had.
func (b *bench) churn(ctx context.Context, res *Result) error {
	cfg := b.cfg
	st := &churnState{acked: map[string]int64{}}
	var wg sync.WaitGroup
	sender, err := b.connect(ctx, "churn-s", 0, st.onAck)
	if err != nil {
		return err
	}
	// stop ends the cuts; finish closes the connections.
	stop, finish := make(chan struct{}), make(chan struct{})
	quit := func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		close(finish)
		wg.Wait()
	}
	// The first connections are bounded by cfg.Timeout in all: a server
	// that takes longer is measured with the receivers it took.
	setup, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	all := make([]*churnClient, cfg.Clients)
	ready := make(chan error, cfg.Clients)
	sem := make(chan struct{}, cfg.Concurrent)
	for i := range all {
		c := newChurnClient(b, st, i+1)
		all[i] = c
		wg.Go(func() { c.loop(ctx, setup, sem, ready, stop, finish) })
	}
	clients, err := receiversIn(all, ready)
	if len(clients) == 0 {
		quit()
		return err
	}
	if err != nil {
		res.note("%d of %d receivers in within %v (first error: %v): measured with those", len(clients), cfg.Clients, cfg.Timeout, err)
	}
	b.log.Info("churn: receivers connected", "clients", len(clients))
	start := time.Now()
	st.startedAt.Store(start.UnixNano())
	period := time.Duration(float64(time.Second) / cfg.Rates[0])
	for i := range cfg.Messages {
		if err := sleepCtx(ctx, time.Until(start.Add(time.Duration(i)*period))); err != nil {
			quit()
			return err
		}
		if _, err := sender.EmitAck(evMessage, messageArg{Content: content(b.run, 0, time.Now(), "churn")}); err != nil {
			quit()
			return fmt.Errorf("churn sender: %w", err)
		}
		st.sent.Add(1)
	}
	sendEnd := time.Now()
	// The last acks, then no more cuts: every receiver comes back and
	// catches up, or the wait ends.
	for d := time.Now().Add(cfg.Timeout); st.ackCount() < int(st.sent.Load()) && time.Now().Before(d); {
		sleepCtx(ctx, 20*time.Millisecond)
	}
	close(stop)
	want := st.ackedMsgs()
	deadline := time.Now().Add(cfg.Timeout)
	for missing := lacking(clients, want); len(missing) > 0 && time.Now().Before(deadline) && ctx.Err() == nil; missing = lacking(missing, want) {
		sleepCtx(ctx, 50*time.Millisecond)
	}
	close(finish)
	wg.Wait()
	b.churnMetrics(res, clients, st, want, sendEnd.Sub(start))
	return nil
}

// receiversIn waits for every receiver's first connection and returns
// those that got in, with the first error of those that did not.
func receiversIn(all []*churnClient, ready <-chan error) ([]*churnClient, error) {
	var first error
	for range all {
		if err := <-ready; err != nil && first == nil {
			first = err
		}
	}
	in := make([]*churnClient, 0, len(all))
	for _, c := range all {
		c.mu.Lock()
		if c.in {
			in = append(in, c)
		}
		c.mu.Unlock()
	}
	return in, first
}

// churnState is what the sender learned: the seqs of its acked messages.
type churnState struct {
	sent      atomic.Int64
	startedAt atomic.Int64
	ackErrors atomic.Int64
	lastAcked atomic.Int64 // the highest acked seq
	replay    Histogram
	// Where a replay's time goes: from the reconnect's start to the
	// WebSocket upgrade's answer, and to the CONNECT reply.
	upgrading, connecting Histogram
	// Presence frames (user:joined, user:left, presence:update) and
	// their bytes, all clients together: a reconnect within the
	// server's leave grace should cost none.
	presenceFrames, presenceBytes atomic.Int64

	mu    sync.Mutex
	acked map[string]int64 // id -> order
}

// churnMsg is what the churn reads of a message: its id, and its place
// in the room's order: the seq, or for the reference server, which has
// none, its MySQL insert id.
type churnMsg struct {
	ID  string `json:"id"`
	Seq int64  `json:"seq"`
}

func (m churnMsg) order() int64 {
	if m.Seq > 0 {
		return m.Seq
	}
	n, _ := strconv.ParseInt(m.ID, 10, 64)
	return n
}

// onAck takes the sender's acks: {"ok":true,"message":{…,"seq":N}}.
func (s *churnState) onAck(_ *peer, pkt []byte) {
	_, body, ok := ackOf(pkt)
	if !ok {
		return
	}
	var args []struct {
		OK      bool     `json:"ok"`
		Message churnMsg `json:"message"`
	}
	if json.Unmarshal(body, &args) != nil || len(args) == 0 || !args[0].OK || args[0].Message.ID == "" {
		s.ackErrors.Add(1)
		return
	}
	seq := args[0].Message.order()
	s.mu.Lock()
	s.acked[args[0].Message.ID] = seq
	s.mu.Unlock()
	for {
		last := s.lastAcked.Load()
		if seq <= last || s.lastAcked.CompareAndSwap(last, seq) {
			break
		}
	}
}

func (s *churnState) ackCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.acked) + int(s.ackErrors.Load())
}

// ackedMsgs returns the acked messages' ids, in the room's order.
func (s *churnState) ackedMsgs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.acked))
	for id := range s.acked {
		out = append(out, id)
	}
	slices.SortFunc(out, func(a, b string) int { return cmp.Compare(s.acked[a], s.acked[b]) })
	return out
}

// orderOf returns an acked message's place in the room's order.
func (s *churnState) orderOf(id string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.acked[id]
}

// churnClient is one receiver across its connections.
type churnClient struct {
	b  *bench
	st *churnState
	n  int

	history     chan struct{} // closed once its first chat:history is handled
	historyOnce sync.Once

	mu         sync.Mutex
	in         bool           // its first connection succeeded
	got        map[string]int // deliveries by message id, of this run's messages
	max        int64          // the latest message received, in the room's order
	offset     string         // the last offset received, sent back to recover
	pid        string         // the session the server gave, sent back to recover
	token      string         // the guest token: the same user on every connection
	waitSeq    int64          // the replay in progress ends with this seq (0: none)
	since      time.Time      // when that reconnect began
	reconnects int
	recovered  int
	failures   int
	// blind: reconnects made before any message had reached the client.
	// It holds no offset, so no server can say what it missed (the
	// official client has the same edge): what it loses is counted apart.
	blind int
	// blindUntil is the first seq that reached it after its last blind
	// reconnect: the ones before it are what it could not recover.
	blindUntil int64
	blindOpen  bool // a blind reconnect waits for its first message
	// dropped: connections the server (or the network) ended, not a cut.
	dropped int
	lastErr error // why the latest connection ended
	// caughtUp, when set, is called (under mu) when a replay ends, that
	// is when waitSeq arrives: redeploy times each client's return by it.
	caughtUp func(now time.Time)
}

func newChurnClient(b *bench, st *churnState, n int) *churnClient {
	return &churnClient{b: b, st: st, n: n, got: map[string]int{}, history: make(chan struct{})}
}

// loop connects (the first time within setup), and until stop is closed
// cuts the connection every CutEvery (the first time at a random phase),
// stays away Away, and connects again; then it stays connected until
// finish. ready gets the first connection's outcome.
func (c *churnClient) loop(ctx, setup context.Context, sem chan struct{}, ready chan<- error, stop, finish <-chan struct{}) {
	cfg := c.b.cfg
	first := true
	next := time.Duration(rand.Int64N(int64(cfg.CutEvery)))
	for ctx.Err() == nil {
		dial := ctx
		if first {
			sem <- struct{}{}
			dial = setup
		}
		conn, done, err := c.connect(dial, first)
		if first && err == nil {
			err = c.awaitHistory(dial, conn, done)
		}
		if first {
			<-sem
			c.mu.Lock()
			c.in = err == nil
			c.mu.Unlock()
			ready <- err
			if err != nil {
				return
			}
		}
		if err != nil {
			c.mu.Lock()
			c.failures++
			c.mu.Unlock()
			if sleepCtx(ctx, cfg.Away) != nil {
				return
			}
			continue
		}
		first = false
		t := time.NewTimer(next)
		next = cfg.CutEvery
		select {
		case <-stop:
			t.Stop()
			select { // stays connected, catching up, until the tally
			case <-finish:
			case <-ctx.Done():
			}
			conn.Close()
			<-done
			return
		case <-ctx.Done():
			t.Stop()
			conn.Close()
			<-done
			return
		case <-done: // the server closed it: come back at once
			t.Stop()
			c.mu.Lock()
			c.dropped++
			if c.dropped == 1 {
				c.b.log.Warn("churn: connection ended by the server", "client", c.n, "err", c.lastErr)
			}
			c.mu.Unlock()
			continue
		case <-t.C:
		}
		conn.Close()
		<-done
		// Away for the whole time even once the cuts stop: coming back at
		// once would end the run with a wave of reconnects that the
		// scenario does not have (the clients away then, about 2/15 of
		// them, all at the same moment), and time their replays in it.
		if sleepCtx(ctx, cfg.Away) != nil {
			return
		}
	}
}

// connect opens one connection, recovering the last session if any, and
// starts its reader; done is closed when the connection ends.
func (c *churnClient) connect(ctx context.Context, first bool) (*Client, chan struct{}, error) {
	c.mu.Lock()
	auth := c.b.auth("churn", c.n)
	if c.token != "" {
		auth["guestToken"] = c.token
	}
	if c.pid != "" {
		auth["pid"], auth["offset"] = c.pid, c.offset
	}
	begin := time.Now()
	if target := c.st.lastAcked.Load(); !first && target > c.max {
		c.waitSeq, c.since = target, begin
	}
	if !first && c.offset == "" {
		c.blind++
		c.blindOpen = true
	}
	c.mu.Unlock()
	conn, err := Dial(ctx, DialOptions{
		URL: c.b.cfg.URLs[c.n%len(c.b.cfg.URLs)], LocalIP: c.b.srcIP(c.n), Auth: auth, Timeout: c.b.cfg.Timeout,
	})
	if err != nil {
		return nil, nil, err
	}
	var reply struct {
		PID string `json:"pid"`
	}
	json.Unmarshal(conn.ConnectReply, &reply)
	c.mu.Lock()
	if !first {
		c.st.upgrading.Record(conn.Upgraded.Sub(begin))
		c.st.connecting.Record(time.Since(begin))
		c.reconnects++
		if c.pid != "" && reply.PID == c.pid {
			c.recovered++
		}
	}
	c.pid = reply.PID
	c.mu.Unlock()
	done := make(chan struct{})
	go func() {
		err := conn.Run(c.onPacket)
		c.mu.Lock()
		c.lastErr = err
		c.mu.Unlock()
		close(done)
	}()
	return conn, done, nil
}

var sessionEvent = []byte(`2["chat:session",`)

// guestToken returns the guest token of a chat:session packet, which a
// client sends back on its next connections to stay the same user ("" in
// any other packet).
func guestToken(pkt []byte) string {
	if !bytes.HasPrefix(pkt, sessionEvent) {
		return ""
	}
	var args []json.RawMessage // the event's name, then the session
	if json.Unmarshal(pkt[1:], &args) != nil || len(args) != 2 {
		return ""
	}
	var sess struct {
		GuestToken string `json:"guestToken"`
	}
	if json.Unmarshal(args[1], &sess) != nil {
		return ""
	}
	return sess.GuestToken
}

// onPacket counts this run's chat messages and keeps the offset and the
// guest token.
func (c *churnClient) onPacket(pkt []byte) {
	switch {
	case isEvent(pkt, evMessage):
	case isEvent(pkt, evHistory):
		c.historyOffset(pkt)
		c.historyOnce.Do(func() { close(c.history) })
		return
	case bytes.HasPrefix(pkt, sessionEvent):
		if token := guestToken(pkt); token != "" {
			c.mu.Lock()
			c.token = token
			c.mu.Unlock()
		}
		return
	case isEvent(pkt, evPresence), isEvent(pkt, evJoined), isEvent(pkt, evLeft):
		c.st.presenceFrames.Add(1)
		c.st.presenceBytes.Add(int64(len(pkt)))
		return
	default:
		return
	}
	if _, _, ok := parseContent(pkt, c.b.run); !ok {
		return
	}
	m, off, ok := messageFields(pkt)
	if !ok {
		return
	}
	seq := m.order()
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got[m.ID]++
	c.max = max(c.max, seq)
	if c.blindOpen {
		c.blindUntil, c.blindOpen = seq, false
	}
	if off != "" {
		c.offset = off
	}
	// waitSeq was sent before the reconnect began: only the replay brings
	// it (a session not recovered never does, and loses it).
	if c.waitSeq != 0 && seq == c.waitSeq {
		c.st.replay.Record(now.Sub(c.since))
		c.waitSeq = 0
		if c.caughtUp != nil {
			c.caughtUp(now)
		}
	}
}

var (
	idKey  = []byte(`"id":"`)
	seqKey = []byte(`"seq":`)
)

// messageFields reads a chat:message's id, seq and trailing offset
// (`2["chat:message",{"id":"…","seq":N,…},"offset"]`) without decoding
// the packet: at full size the generator reads 20,000 of them a second,
// and decoding each (15 µs) took a third of its CPU on the cores it
// shares with the servers. Inside JSON strings a quote is escaped, so
// the keys cannot be matched inside the content. It falls back to
// decoding anything else.
func messageFields(pkt []byte) (m churnMsg, off string, ok bool) {
	i := bytes.Index(pkt, idKey)
	if i < 0 {
		return decodeMessageFields(pkt)
	}
	id := pkt[i+len(idKey):]
	end := bytes.IndexByte(id, '"')
	if end <= 0 || bytes.IndexByte(id[:end], '\\') >= 0 {
		return decodeMessageFields(pkt)
	}
	m.ID = string(id[:end])
	if j := bytes.Index(pkt, seqKey); j >= 0 {
		n, _, _ := digits(pkt[j+len(seqKey):])
		m.Seq = int64(n)
	}
	if body, found := bytes.CutSuffix(pkt, []byte(`"]`)); found {
		if q := bytes.LastIndexByte(body, '"'); q > 0 && body[q-1] == ',' {
			off = string(body[q+1:])
		}
	}
	return m, off, true
}

// decodeMessageFields is messageFields the slow way.
func decodeMessageFields(pkt []byte) (m churnMsg, off string, ok bool) {
	var args []json.RawMessage
	if len(pkt) < 2 || json.Unmarshal(pkt[1:], &args) != nil || len(args) < 2 {
		return m, "", false
	}
	if json.Unmarshal(args[1], &m) != nil || m.ID == "" {
		return m, "", false
	}
	if len(args) > 2 {
		json.Unmarshal(args[len(args)-1], &off)
	}
	return m, off, true
}

// historyOffset keeps the offset a chat:history carries as its last
// argument, as the official client keeps the last string argument of any
// event: a receiver cut before its first message recovers from it.
func (c *churnClient) historyOffset(pkt []byte) {
	var args []json.RawMessage
	if json.Unmarshal(pkt[1:], &args) != nil || len(args) < 3 {
		return
	}
	var off string
	if json.Unmarshal(args[len(args)-1], &off) == nil && off != "" {
		c.mu.Lock()
		c.offset = off
		c.mu.Unlock()
	}
}

// awaitHistory waits until the first connection's chat:history has been
// handled: the client is in then, with its first offset, as bench.connect's
// clients are. The first cut comes at a random phase, which may be a few
// milliseconds: a cut before a long history had been read left the
// client without an offset (a "reconnect without an offset" in make test
// on a loaded machine).
func (c *churnClient) awaitHistory(ctx context.Context, conn *Client, done <-chan struct{}) error {
	select {
	case <-c.history:
		return nil
	case <-done:
		conn.Close()
		return errors.New("closed before chat:history")
	case <-ctx.Done():
		conn.Close()
		<-done
		return ctx.Err()
	}
}

// has reports whether every one of ids has arrived.
func (c *churnClient) has(ids []string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		if c.got[id] == 0 {
			return false
		}
	}
	return true
}

// lacking returns clients from the first one that lacks one of ids: a
// client only gains messages, so the next call starts there. Checking
// every client again at each call took the generator a core's worth of
// lookups while the last replays were being timed.
func lacking(clients []*churnClient, ids []string) []*churnClient {
	for len(clients) > 0 && clients[0].has(ids) {
		clients = clients[1:]
	}
	return clients
}

// churnMetrics tallies every (receiver, acked message) pair.
func (b *bench) churnMetrics(res *Result, clients []*churnClient, st *churnState, acked []string, sending time.Duration) {
	p := tallyPairs(clients, st, acked)
	var reconnects, recovered, failures, blind, dropped int
	for _, c := range clients {
		c.mu.Lock()
		reconnects += c.reconnects
		recovered += c.recovered
		failures += c.failures
		dropped += c.dropped
		blind += c.blind
		c.mu.Unlock()
	}
	p.add(res)
	res.add("lost by clients cut before any message", float64(p.lostBlind), "deliveries", "lower")
	res.add("acked", float64(len(acked)), "messages", "")
	res.add("ack errors", float64(st.ackErrors.Load()), "messages", "lower")
	res.add("reconnects", float64(reconnects), "reconnects", "")
	res.add("recovered", ratio(recovered, reconnects), "ratio", "higher")
	res.add("reconnects without an offset", float64(blind), "reconnects", "lower")
	res.add("recovered with an offset", ratio(recovered, reconnects-blind), "ratio", "higher")
	res.add("failed reconnects", float64(failures), "attempts", "lower")
	res.add("ended by the server", float64(dropped), "connections", "lower")
	res.add("replays", float64(st.replay.Count()), "reconnects", "")
	res.addMs("replay p50", st.replay.Quantile(0.5))
	res.addMs("replay p99", st.replay.Quantile(0.99))
	res.addMs("replay max", st.replay.Max())
	res.addMs("reconnect upgraded p99", st.upgrading.Quantile(0.99))
	res.addMs("reconnect connected p99", st.connecting.Quantile(0.99))
	res.add("presence frames received", float64(st.presenceFrames.Load()), "frames", "")
	res.add("presence bytes received", float64(st.presenceBytes.Load()), "bytes", "")
	res.note("%d receivers cut every %v for %v; %d messages at %.3g/s over %.1fs", len(clients), b.cfg.CutEvery, b.cfg.Away,
		len(acked), b.cfg.Rates[0], sending.Seconds())
}

// pairTally is what became of every (receiver, acked message) pair.
type pairTally struct {
	pairs, once, dup, lost int
	// lostBlind: lost by a receiver that reconnected before any message
	// had reached it (no offset to recover from), part of lost.
	lostBlind int
}

func tallyPairs(clients []*churnClient, st *churnState, acked []string) pairTally {
	t := pairTally{pairs: len(clients) * len(acked)}
	for _, c := range clients {
		c.mu.Lock()
		for _, id := range acked {
			switch n := c.got[id]; {
			case n == 1:
				t.once++
			case n == 0 && st.orderOf(id) < c.blindUntil:
				t.lostBlind++
				t.lost++
			case n == 0:
				t.lost++
			default:
				t.dup += n - 1
			}
		}
		c.mu.Unlock()
	}
	return t
}

// add puts the tally's shares and counts in the result.
func (t pairTally) add(res *Result) {
	res.add("exactly once", ratio(t.once, t.pairs), "ratio", "higher")
	res.add("duplicates", float64(t.dup), "deliveries", "lower")
	res.add("lost", float64(t.lost), "deliveries", "lower")
}

func ratio(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return float64(n) / float64(of)
}
