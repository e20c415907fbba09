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
	if c.closed && len(c.queue) == 0 && !c.pendingClose {
		c.mu.Unlock()
		writeError(w, http.StatusBadRequest, errSessionUnknown)
		return
	}
	c.polling = true
	for len(c.queue) == 0 && !c.upgrading && c.transport == transportPolling && !c.closed {
		c.mu.Unlock()
		select {
		case <-c.wake:
		case <-r.Context().Done():
			c.mu.Lock()
			c.polling = false
			c.mu.Unlock()
			c.abort(ReasonTransportClose)
			return
		}
		c.mu.Lock()
	}
	frames := c.takeLocked()
	finished := false
	switch {
	case len(frames) > 0:
	case c.pendingClose:
		frames, finished = []frame{{typ: typeClose}}, true
		c.pendingClose = false
	default:
		// Upgrading, or closed by the client: end this request cleanly.
		frames, finished = []frame{{typ: typeNoop}}, c.closed
	}
	c.polling = false
	c.mu.Unlock()

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
	if c.transport != transportPolling || c.closed {
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
		c.deliver(p)
	}
	w.Header().Set("Content-Type", "text/html")
	w.Write([]byte("ok"))
}
