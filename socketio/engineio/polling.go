package engineio

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"
)

// postReadTimeout bounds how long a client may take to send a POST body.
const postReadTimeout = 10 * time.Second

// upgradeGrace is how long a GET that comes during an upgrade waits for
// it to end (see poll): the reference server answers polls during an
// upgrade every 100 ms.
const upgradeGrace = 100 * time.Millisecond

// pollReadyLocked reports whether a poll has its answer: something is
// queued, the session is closed or upgraded, or, during an upgrade, the
// probe is answered (for a GET pending since before it) or the grace is
// over (for a GET that came during it).
func (c *Conn) pollReadyLocked(late, graceOver bool) bool {
	switch {
	case len(c.out.frames) > 0 || c.closed || c.transport != transportPolling:
		return true
	case late:
		return graceOver
	default:
		return c.probed
	}
}

// waitPollLocked waits, c.mu held but released meanwhile, until the poll
// has its answer; false when the client went away first.
//
// A GET that comes during an upgrade may have been sent before the client
// saw the probe's answer (it gets a noop, so the client can pause), or
// after the upgrade's last packet, still unread on the WebSocket (it gets
// 400, as on the reference server): it waits up to upgradeGrace to tell
// which.
func (c *Conn) waitPollLocked(r *http.Request) bool {
	late := c.upgrading
	var grace <-chan time.Time
	if late {
		t := time.NewTimer(upgradeGrace)
		defer t.Stop()
		grace = t.C
	}
	for graceOver := false; !c.pollReadyLocked(late, graceOver); {
		c.mu.Unlock()
		select {
		case <-c.wake:
		case <-grace:
			graceOver = true
		case <-r.Context().Done():
			c.mu.Lock()
			return false
		}
		c.mu.Lock()
	}
	return true
}

// poll answers a long-polling GET with everything queued, waiting until
// something is.
func (c *Conn) poll(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	if c.transport != transportPolling {
		c.mu.Unlock()
		writeError(w, http.StatusBadRequest, errBadRequest)
		return
	}
	if c.polling {
		// The spec allows one GET at a time: a second one is a broken
		// client, and ends the session.
		c.mu.Unlock()
		writeError(w, http.StatusBadRequest, errBadRequest)
		c.Close(ReasonTransportError)
		return
	}
	if c.closed && len(c.out.frames) == 0 && !c.pendingClose && !c.noopDue {
		c.mu.Unlock()
		writeError(w, http.StatusBadRequest, errSessionUnknown)
		return
	}
	c.polling = true
	if !c.waitPollLocked(r) {
		c.polling = false
		c.mu.Unlock()
		c.abort(ReasonTransportClose)
		return
	}
	if c.transport != transportPolling {
		// Upgraded meanwhile: the queue is the WebSocket's now.
		c.polling = false
		c.mu.Unlock()
		writeError(w, http.StatusBadRequest, errBadRequest)
		return
	}
	frames := c.out.take()
	finished := false
	switch {
	case len(frames) > 0:
	case c.pendingClose:
		frames, finished = []frame{{typ: typeClose}}, true
		c.pendingClose = false
	default:
		// Upgrading, or closed by the client: end this request cleanly.
		frames, finished = []frame{{typ: typeNoop}}, c.closed
		c.noopDue = false
	}
	c.polling = false
	c.mu.Unlock()
	c.answerPoll(w, frames, finished)
}

// answerPoll writes a poll's answer: frames, after which the session is
// over when finished.
func (c *Conn) answerPoll(w http.ResponseWriter, frames []frame, finished bool) {
	body := appendPayload(make([]byte, 0, payloadSize(frames)), frames)
	w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	// A client that does not read its response must not hold this
	// goroutine and the payload for ever: the write is bounded, and
	// flushed here so that the bound covers all of it. The deadline is
	// lifted afterwards, as it would outlive the request on a kept-alive
	// connection.
	rc := http.NewResponseController(w)
	rc.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := w.Write(body); err == nil {
		c.srv.opts.Traffic.Sent(false, len(frames), len(body))
		c.delivered(frames)
	}
	rc.Flush()
	rc.SetWriteDeadline(time.Time{})
	if finished {
		c.srv.remove(c)
	}
}

func payloadSize(frames []frame) int {
	n := 0
	for _, f := range frames {
		n += 2 + f.size()*4/3
	}
	return n
}

// post reads a long-polling POST: one or more packets from the client.
func (c *Conn) post(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	// A session the server is closing takes POSTs until its close packet
	// is polled, as on the reference server (a pong crossing the close
	// must not fail); what they carry is dropped.
	if c.transport != transportPolling || (c.closed && !c.pendingClose) {
		c.mu.Unlock()
		writeError(w, http.StatusBadRequest, errBadRequest)
		return
	}
	if c.posting {
		c.mu.Unlock()
		writeError(w, http.StatusBadRequest, errBadRequest)
		c.Close(ReasonTransportError)
		return
	}
	c.posting = true
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.posting = false
		c.mu.Unlock()
	}()

	http.NewResponseController(w).SetReadDeadline(time.Now().Add(postReadTimeout))
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(c.srv.opts.MaxPayload)))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, errBadRequest)
		c.abort(ReasonParseError)
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, errBadRequest)
		c.abort(ReasonTransportError)
		return
	}
	packets, err := decodePayload(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, errBadRequest)
		c.srv.log.Info("engineio: invalid packet, closing", "sid", c.id, "transport", "polling")
		c.abort(ReasonParseError)
		return
	}
	c.srv.opts.Traffic.Received(false, len(packets), len(body))
	for _, p := range packets {
		c.receive(p)
	}
	w.Header().Set("Content-Type", "text/html")
	w.Write([]byte("ok"))
}
