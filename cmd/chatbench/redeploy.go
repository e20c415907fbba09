package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// redeploy is the rolling restart of issue 17: cfg.Clients receivers and
// one sender, all through nginx (cfg.URLs, ip_hash over the instances by
// source /24), while cfg.Instances instances are restarted one after the
// other (each with the restart command: SIGTERM, the drain, the exit, a
// start on the same port). Receivers reconnect when their connection
// ends, after socket.io-client's delay, with the pid and offset the
// server gave them (connection state recovery). The sender sends at
// cfg.Rates[0] a second throughout and, when its connection ends before
// an ack, sends the message again with the same clientMsgId on a new one.
// Each connection that ends after a SIGTERM (and before the next) belongs
// to that restart's instance: per restart, the clients cut, the time from
// the SIGTERM until each was back, recovered or not, and until it had
// every message acked before it reconnected; over the run, every
// (receiver, acked message) pair: exactly once, duplicates, lost.
func (b *bench) redeploy(ctx context.Context, res *Result) error {
	st := &churnState{acked: map[string]int64{}}
	snd := &sender{b: b, st: st}
	if err := snd.dial(ctx); err != nil {
		return fmt.Errorf("redeploy sender: %w", err)
	}
	rs, err := b.redeployReceivers(ctx, st, res)
	if err != nil {
		snd.close()
		return err
	}
	clients := rs.clients
	stop := make(chan struct{})
	sending := make(chan struct{})
	start := time.Now()
	go func() { snd.run(ctx, stop); close(sending) }()
	restarts, err := b.restartAll(ctx, clients)
	close(stop)
	<-sending
	snd.close()
	if err == nil {
		b.waitDelivered(ctx, clients, st.ackedMsgs())
	}
	rs.stop()
	if err != nil {
		return err
	}
	b.redeployMetrics(res, clients, st, snd, restarts)
	res.note("%d receivers through nginx, %d instances restarted in turn; %d messages at %.3g/s over %.1fs",
		len(clients), len(restarts), st.sent.Load(), b.cfg.Rates[0], time.Since(start).Seconds())
	return nil
}

// redeployClient is a receiver and its outages.
type redeployClient struct {
	*churnClient
	outages []outage // under churnClient.mu
}

// outage is one connection's end and the client's return.
type outage struct {
	end       time.Time // the connection ended
	dial      time.Time // the reconnect that got in began
	upgraded  time.Time // its WebSocket upgrade was answered
	back      time.Time // the CONNECT reply of the reconnect (zero: never)
	caught    time.Time // every message acked before the reconnect began had arrived (zero: never)
	recovered bool      // the server knew the session: the same pid
}

// receivers are the redeploy's receivers whose first connection got in.
type receivers struct {
	clients []*redeployClient
	finish  chan struct{} // closed: they close their connections
	wg      sync.WaitGroup
}

func (rs *receivers) stop() {
	close(rs.finish)
	rs.wg.Wait()
}

// redeployReceivers connects cfg.Clients receivers, cfg.Concurrent at a
// time, within cfg.Timeout in all, as churn's: a server that takes longer
// is measured with the receivers it took (a note says so). Each
// reconnects whenever its connection ends, until stop.
func (b *bench) redeployReceivers(ctx context.Context, st *churnState, res *Result) (*receivers, error) {
	rs := &receivers{finish: make(chan struct{})}
	setup, cancel := context.WithTimeout(ctx, b.cfg.Timeout)
	defer cancel()
	all := make([]*churnClient, b.cfg.Clients)
	of := make(map[*churnClient]*redeployClient, len(all))
	ready := make(chan error, len(all))
	sem := make(chan struct{}, b.cfg.Concurrent)
	for i := range all {
		r := &redeployClient{churnClient: newChurnClient(b, st, i+1)}
		r.caughtUp = r.onCaughtUp
		all[i], of[r.churnClient] = r.churnClient, r
		rs.wg.Go(func() { r.loop(ctx, setup, sem, ready, rs.finish) })
	}
	in, err := receiversIn(all, ready)
	if len(in) == 0 {
		rs.stop()
		return nil, fmt.Errorf("redeploy receivers: %w", err)
	}
	if err != nil {
		res.note("%d of %d receivers in within %v (first error: %v): measured with those", len(in), len(all), b.cfg.Timeout, err)
	}
	for _, c := range in {
		rs.clients = append(rs.clients, of[c])
	}
	b.log.Info("redeploy: receivers connected", "clients", len(rs.clients))
	return rs, nil
}

// loop connects (the first time within setup), and each time the
// connection ends comes back, until finish; ready gets the first
// connection's outcome.
func (r *redeployClient) loop(ctx, setup context.Context, sem chan struct{}, ready chan<- error, finish <-chan struct{}) {
	sem <- struct{}{}
	conn, done, err := r.connect(setup, true)
	if err == nil {
		err = r.awaitHistory(setup, conn, done)
	}
	<-sem
	r.mu.Lock()
	r.in = err == nil
	r.mu.Unlock()
	ready <- err
	for err == nil {
		select {
		case <-done:
		case <-finish:
		case <-ctx.Done():
		}
		select {
		case <-done:
			r.lost()
			conn, done, err = r.comeBack(ctx, finish)
		default: // finish or ctx
			conn.Close()
			<-done
			return
		}
	}
}

func (r *redeployClient) lost() {
	r.mu.Lock()
	r.outages = append(r.outages, outage{end: time.Now()})
	r.mu.Unlock()
}

// comeBack reconnects as socket.io-client does: after its delay, again
// and again with a longer one until it gets in, or finish.
func (r *redeployClient) comeBack(ctx context.Context, finish <-chan struct{}) (*Client, chan struct{}, error) {
	for attempt := 0; ; attempt++ {
		t := time.NewTimer(backoff(r.b.cfg.ReconnectDelay, attempt))
		select {
		case <-t.C:
		case <-finish:
			t.Stop()
			return nil, nil, errors.New("finished while away")
		case <-ctx.Done():
			t.Stop()
			return nil, nil, ctx.Err()
		}
		r.mu.Lock()
		pid := r.pid
		r.mu.Unlock()
		dial := time.Now()
		conn, done, err := r.connect(ctx, false)
		if err != nil {
			r.mu.Lock()
			r.failures++
			r.lastErr = err
			r.mu.Unlock()
			continue
		}
		r.back(pid, dial, conn.Upgraded)
		return conn, done, nil
	}
}

// backoff is socket.io-client's reconnection delay: delay (its
// reconnectionDelay) doubled at each failed attempt, 50% either way at
// random (randomizationFactor), at most 5 s (reconnectionDelayMax).
func backoff(delay time.Duration, attempt int) time.Duration {
	d := time.Duration(float64(delay<<min(attempt, 8)) * (0.5 + rand.Float64()))
	return min(d, 5*time.Second)
}

// back closes the outage: connect has set the new pid, which is the old
// one when the server recovered the session. With nothing acked since the
// last message it had (no waitSeq), the client is caught up on arrival.
func (r *redeployClient) back(oldPID string, dial, upgraded time.Time) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	o := &r.outages[len(r.outages)-1]
	o.dial, o.upgraded, o.back, o.recovered = dial, upgraded, now, oldPID != "" && r.pid == oldPID
	if r.waitSeq == 0 && o.caught.IsZero() {
		o.caught = now
	}
}

// onCaughtUp is churnClient.caughtUp (mu held): the replay has brought
// the last message acked before the reconnect began.
func (r *redeployClient) onCaughtUp(now time.Time) {
	if n := len(r.outages); n > 0 && r.outages[n-1].caught.IsZero() {
		r.outages[n-1].caught = now
	}
}

// settledSince reports whether every outage that began at or after t is
// over: back, and caught up unless the session was lost (what it missed
// then never comes).
func (r *redeployClient) settledSince(t time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, o := range r.outages {
		if o.end.Before(t) {
			continue
		}
		if o.back.IsZero() || (o.recovered && o.caught.IsZero()) {
			return false
		}
	}
	return true
}

// restart is one instance's restart as chatbench saw it.
type restart struct {
	sigterm time.Time     // when the restart command started: it sends SIGTERM first
	took    time.Duration // until the command returned: the instance up again
}

// restartAll restarts each instance in turn after cfg.Settle, and after
// each waits until every client it cut has settled (at most cfg.Timeout).
func (b *bench) restartAll(ctx context.Context, clients []*redeployClient) ([]restart, error) {
	var out []restart
	for i := range b.cfg.Instances {
		if err := sleepCtx(ctx, b.cfg.Settle); err != nil {
			return out, err
		}
		r := restart{sigterm: time.Now()}
		err := b.restartInstance(ctx, i)
		r.took = time.Since(r.sigterm)
		if err != nil {
			return out, fmt.Errorf("restart of instance %d: %w", i, err)
		}
		out = append(out, r)
		deadline := time.Now().Add(b.cfg.Timeout)
		for !allSettled(clients, r.sigterm) && time.Now().Before(deadline) && ctx.Err() == nil {
			sleepCtx(ctx, 50*time.Millisecond)
		}
		b.log.Info("redeploy: instance restarted", "instance", i, "took", r.took, "settled after", time.Since(r.sigterm))
	}
	return out, sleepCtx(ctx, b.cfg.Settle)
}

func allSettled(clients []*redeployClient, since time.Time) bool {
	for _, c := range clients {
		if !c.settledSince(since) {
			return false
		}
	}
	return true
}

// restartInstance runs the restart command with the instance's index
// (0-based) as its last argument; it returns once the instance is up
// again. Its output goes to chatbench's stderr, a file in scripts/bench.sh
// (not a pipe: the server it starts keeps running after it).
func (b *bench) restartInstance(ctx context.Context, i int) error {
	if b.cfg.restarter != nil {
		return b.cfg.restarter(ctx, i)
	}
	args := append(strings.Fields(b.cfg.Restart), strconv.Itoa(i))
	ctx, cancel := context.WithTimeout(ctx, b.cfg.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}

// waitDelivered waits until every receiver has every acked message, or
// nothing more has arrived for cfg.Drain (what a session not recovered
// missed never comes), at most cfg.Timeout.
func (b *bench) waitDelivered(ctx context.Context, clients []*redeployClient, acked []string) {
	deadline := time.Now().Add(b.cfg.Timeout)
	last, idleSince := -1, time.Now()
	for time.Now().Before(deadline) && ctx.Err() == nil {
		n, all := delivered(clients, acked)
		if all || time.Since(idleSince) > b.cfg.Drain {
			return
		}
		if n != last {
			last, idleSince = n, time.Now()
		}
		sleepCtx(ctx, 100*time.Millisecond)
	}
}

// delivered counts the (receiver, acked message) pairs delivered, and
// says whether that is all of them.
func delivered(clients []*redeployClient, acked []string) (int, bool) {
	n := 0
	for _, c := range clients {
		c.mu.Lock()
		for _, id := range acked {
			if c.got[id] > 0 {
				n++
			}
		}
		c.mu.Unlock()
	}
	return n, n == len(clients)*len(acked)
}

// redeployMetrics tallies each restart's outages, then every (receiver,
// acked message) pair and the sender's retries.
func (b *bench) redeployMetrics(res *Result, clients []*redeployClient, st *churnState, snd *sender, restarts []restart) {
	base := make([]*churnClient, len(clients))
	for i, c := range clients {
		base[i] = c.churnClient
	}
	acked := st.ackedMsgs()
	tallyPairs(base, st, acked).add(res)
	res.add("acked", float64(len(acked)), "messages", "")
	res.add("sends never acked", float64(snd.unacked), "messages", "lower")
	res.add("sends retried on a new connection", float64(snd.retries), "sends", "")
	res.add("ack errors", float64(st.ackErrors.Load()), "messages", "lower")
	for k, r := range restarts {
		next := time.Now()
		if k+1 < len(restarts) {
			next = restarts[k+1].sigterm
		}
		outagesOf(clients, r.sigterm, next).add(res, fmt.Sprintf("restart %d: ", k+1), r)
	}
	var early, away, failures int
	for _, c := range clients {
		c.mu.Lock()
		for _, o := range c.outages {
			if len(restarts) == 0 || o.end.Before(restarts[0].sigterm) {
				early++
			}
			if o.back.IsZero() {
				away++
			}
		}
		failures += c.failures
		c.mu.Unlock()
	}
	res.add("connections ended before the first restart", float64(early), "connections", "lower")
	res.add("clients not back at the end", float64(away), "clients", "lower")
	res.add("failed reconnects", float64(failures), "attempts", "lower")
}

// restartTally is what one restart did to the clients.
type restartTally struct {
	cut, recovered, notBack int
	ended, back, caught     Histogram // from the SIGTERM
	dialing                 Histogram // the reconnect that got in, from its start to the CONNECT reply
	upgrading               Histogram // … to the WebSocket upgrade's answer
}

// outagesOf tallies the outages that began in [from, to).
func outagesOf(clients []*redeployClient, from, to time.Time) *restartTally {
	t := &restartTally{}
	for _, c := range clients {
		c.mu.Lock()
		for _, o := range c.outages {
			if o.end.Before(from) || !o.end.Before(to) {
				continue
			}
			t.cut++
			t.ended.Record(o.end.Sub(from))
			if o.back.IsZero() {
				t.notBack++
				continue
			}
			t.back.Record(o.back.Sub(from))
			t.dialing.Record(o.back.Sub(o.dial))
			t.upgrading.Record(o.upgraded.Sub(o.dial))
			if o.recovered {
				t.recovered++
				if !o.caught.IsZero() {
					t.caught.Record(later(o.caught, o.back).Sub(from))
				}
			}
		}
		c.mu.Unlock()
	}
	return t
}

// add puts one restart's figures in the result, each name prefixed. The
// catch-up times are of recovered clients only: the others never get
// what they missed (it is counted as lost).
func (t *restartTally) add(res *Result, prefix string, r restart) {
	res.add(prefix+"clients cut", float64(t.cut), "clients", "")
	res.add(prefix+"recovered", ratio(t.recovered, t.cut), "ratio", "higher")
	res.add(prefix+"not back", float64(t.notBack), "clients", "lower")
	if t.ended.Count() > 0 {
		res.addMs(prefix+"cut p50", t.ended.Quantile(0.5))
		res.addMs(prefix+"last cut", t.ended.Max())
	}
	if t.back.Count() > 0 {
		res.addMs(prefix+"reconnect took p50", t.dialing.Quantile(0.5))
		res.addMs(prefix+"reconnect took p99", t.dialing.Quantile(0.99))
		res.addMs(prefix+"reconnect upgraded p50", t.upgrading.Quantile(0.5))
		res.addMs(prefix+"reconnect upgraded p99", t.upgrading.Quantile(0.99))
		res.addMs(prefix+"back p50", t.back.Quantile(0.5))
		res.addMs(prefix+"back p99", t.back.Quantile(0.99))
		res.addMs(prefix+"all back within", t.back.Max())
	}
	if t.caught.Count() > 0 {
		res.addMs(prefix+"caught up p99", t.caught.Quantile(0.99))
		res.addMs(prefix+"all caught up within", t.caught.Max())
	}
	res.add(prefix+"instance up again after", r.took.Seconds(), "s", "")
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
