package engineio

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/globalchat/globalchat/internal/randid"
)

// Options configure a Server. Zero values take the defaults of the
// reference JavaScript server.
type Options struct {
	PingInterval time.Duration // default 25s
	PingTimeout  time.Duration // default 20s
	MaxPayload   int           // bytes per received message or POST body; default 1e6
	// AllowedOrigins lists the origins (scheme://host[:port]) a browser may
	// connect from, for both transports. Empty allows only the server's
	// own origin; "*" allows any. Requests with no Origin header (not from
	// a browser) are always allowed.
	AllowedOrigins []string
	// MaxQueue bounds each connection's outbound queue in packets; a
	// connection that falls further behind is closed with ReasonSlowClient.
	// Default 4096.
	MaxQueue int
	// MaxQueueBytes bounds it in bytes; default 8 MiB.
	MaxQueueBytes int
	// WriteDelay coalesces the writes of a WebSocket fed fast: when it was
	// written less than the delay ago, the next write waits until the
	// delay has passed since, and everything queued meanwhile leaves in
	// that one write. A connection fed slowly is written at once, and a
	// message sent Immediate never waits. It trades latency for fewer
	// write system calls, which is what a busy server spends most on.
	// The delay is WriteDelay, and grows with the rate a connection is
	// fed (see maxWriteRate) up to MaxWriteDelay. Default 0: off.
	WriteDelay time.Duration
	// MaxWriteDelay caps the delay of a connection fed fast; default
	// WriteDelay (no growth).
	MaxWriteDelay time.Duration
	// LazyDelay is how long a Lazy message waits for another one to leave
	// with; default 500ms. Writes are what a busy server spends most on:
	// a room's presence update each second would otherwise double the
	// writes of a room that chats twice a second.
	LazyDelay time.Duration
	// KeepHeaders names the request headers a connection keeps of its
	// handshake (Conn.Request); nil keeps them all, empty none.
	KeepHeaders []string
	// MaxOpening bounds the connections being opened at once (see
	// admission; a slot is held at most a second); others wait their
	// turn, a handshake up to OpeningWait (default 10s) before it is
	// answered 503. Default 0: no bound.
	MaxOpening  int
	OpeningWait time.Duration
	// DisablePolling and DisableWebSocket turn a transport off.
	DisablePolling, DisableWebSocket bool
	// Refused, when set, is called for each client refused or cut off
	// for speaking what the server does not (see Refusal), after the
	// answer; it must not block.
	Refused func(Refusal)
	Logger  *slog.Logger
	// Limits bound sessions per client address, handshakes per address
	// and second, and sessions not yet connected above; default none.
	// Their refusals are reported through Refused too.
	Limits Limits
	// Traffic counts bytes, packets and connections; nil counts nothing.
	Traffic Traffic
}

func (o *Options) defaults() {
	if o.PingInterval <= 0 {
		o.PingInterval = 25 * time.Second
	}
	if o.PingTimeout <= 0 {
		o.PingTimeout = 20 * time.Second
	}
	if o.MaxPayload <= 0 {
		o.MaxPayload = 1_000_000
	}
	if o.MaxQueue <= 0 {
		o.MaxQueue = 4096
	}
	if o.MaxQueueBytes <= 0 {
		o.MaxQueueBytes = 8 << 20
	}
	o.MaxWriteDelay = max(o.MaxWriteDelay, o.WriteDelay)
	if o.LazyDelay <= 0 {
		o.LazyDelay = 500 * time.Millisecond
	}
	if o.Traffic == nil {
		o.Traffic = noTraffic{}
	}
	if o.OpeningWait <= 0 {
		o.OpeningWait = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Receiver gets what a connection receives. Its methods are called one at
// a time for a connection.
type Receiver interface {
	// OnMessage gets a message; data is valid only during the call.
	OnMessage(data []byte, binary bool)
	// OnClose is called once, when the connection is closed.
	OnClose(reason Reason)
}

// Settler is a Receiver that handles messages after OnMessage has
// returned (from a queue of its own, so that a slow handler does not stop
// the connection's reading): Settle returns once every message received
// so far has been handled. Drain waits for it.
type Settler interface {
	Settle()
}

// OpenFunc is called for each new connection, before it receives anything,
// and returns what receives its messages.
type OpenFunc func(c *Conn) Receiver

// Server serves Engine.IO on the path it is mounted at.
type Server struct {
	opts Options
	open OpenFunc
	log  *slog.Logger

	opening *admission
	addrs   *addrTable
	flusher *flusher

	mu       sync.Mutex
	conns    map[string]*Conn
	shutdown bool
}

// NewServer returns a Server that calls open for each new connection.
func NewServer(opts Options, open OpenFunc) *Server {
	opts.defaults()
	s := &Server{opts: opts, open: open, log: opts.Logger, conns: make(map[string]*Conn),
		opening: newAdmission(opts.MaxOpening, opts.OpeningWait, openingHold),
		addrs:   newAddrTable(opts.Limits, time.Now),
		flusher: newFlusher(runtime.GOMAXPROCS(0))}
	return s
}

// Options returns the options in force, defaults filled in.
func (s *Server) Options() Options { return s.opts }

// Len returns the number of open connections.
func (s *Server) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Shutdown closes every connection with ReasonServerShutdown and refuses
// new ones. It returns when all are closed or ctx is done.
func (s *Server) Shutdown(ctx context.Context) error {
	conns := s.refuseNew()
	for _, c := range conns {
		c.Close(ReasonServerShutdown)
	}
	return waitClosed(ctx, conns)
}

// drainTick is how often Drain closes the connections that are due: a
// drain of thousands closes them in batches, not one timer each.
const drainTick = 10 * time.Millisecond

// Drain is the gentle half of a shutdown: it refuses new sessions (503
// Server shutting down, which a proxy's proxy_next_upstream takes to
// another instance) and closes the open ones with ReasonServerShutdown,
// spread evenly over window (the i-th of n at i*window/n), so that their
// clients, which reconnect at once, do not all land on the other
// instances in the same second. Each closes after the message it is
// handling, if any (Conn.Drain): a message in flight gets its answer.
// Drain returns when every connection is closed or ctx is done; window
// 0 closes them all at once.
func (s *Server) Drain(ctx context.Context, window time.Duration) error {
	conns := s.refuseNew()
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for next := 0; next < len(conns); {
		due := len(conns)
		if elapsed := time.Since(start); window > 0 && elapsed < window {
			// i is due once i*window/n has passed: the first at once.
			due = min(len(conns), int(int64(len(conns))*int64(elapsed)/int64(window))+1)
		}
		for ; next < due; next++ {
			go conns[next].Drain(ReasonServerShutdown)
		}
		if next == len(conns) {
			break
		}
		timer.Reset(drainTick)
		select {
		case <-timer.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return waitClosed(ctx, conns)
}

// refuseNew makes the server refuse new sessions and returns the open
// ones.
func (s *Server) refuseNew() []*Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shutdown = true
	conns := make([]*Conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	return conns
}

// waitClosed waits until every one of conns is closed, or ctx is done.
func waitClosed(ctx context.Context, conns []*Conn) error {
	for _, c := range conns {
		select {
		case <-c.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// refusing reports whether the server refuses new sessions (it is being
// drained or shut down).
func (s *Server) refusing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shutdown
}

// HTTP error codes of the Engine.IO spec.
const (
	errTransportUnknown   = 0
	errSessionUnknown     = 1
	errBadHandshake       = 2
	errBadRequest         = 3
	errForbidden          = 4
	errUnsupportedVersion = 5
)

var errorMessages = map[int]string{
	errTransportUnknown:   "Transport unknown",
	errSessionUnknown:     "Session ID unknown",
	errBadHandshake:       "Bad handshake method",
	errBadRequest:         "Bad request",
	errForbidden:          "Forbidden",
	errUnsupportedVersion: "Unsupported protocol version",
}

func writeError(w http.ResponseWriter, status, code int) {
	writeErrorMessage(w, status, code, errorMessages[code])
}

func writeErrorMessage(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	body, _ := json.Marshal(struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}{code, msg})
	w.Write(body)
}

// ServeHTTP routes a request to the handshake, a transport or an error.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	if origin != "" && !s.originAllowed(origin, r) {
		writeError(w, http.StatusForbidden, errForbidden)
		return
	}
	s.cors(w, r, origin)
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	q := r.URL.Query()
	if eio := q.Get("EIO"); eio != "4" {
		s.refuseVersion(w, r, eio)
		return
	}
	transport := q.Get("transport")
	if !s.transportEnabled(transport) {
		writeError(w, http.StatusBadRequest, errTransportUnknown)
		return
	}
	sid := q.Get("sid")
	if sid == "" {
		s.handshake(w, r, transport)
		return
	}
	c := s.lookup(sid)
	if c == nil {
		writeError(w, http.StatusBadRequest, errSessionUnknown)
		return
	}
	c.catchUp()
	if transport == "websocket" {
		if !isUpgrade(r) {
			writeError(w, http.StatusBadRequest, errBadRequest)
			return
		}
		c.upgrade(w, r)
		return
	}
	switch r.Method {
	case http.MethodGet:
		c.poll(w, r)
	case http.MethodPost:
		c.post(w, r)
	default:
		writeError(w, http.StatusBadRequest, errBadRequest)
	}
}

func (s *Server) transportEnabled(t string) bool {
	switch t {
	case "polling":
		return !s.opts.DisablePolling
	case "websocket":
		return !s.opts.DisableWebSocket
	}
	return false
}

func isUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

func (s *Server) cors(w http.ResponseWriter, r *http.Request, origin string) {
	if origin == "" {
		return
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	// Any origin ("*") goes without credentials: a page anywhere must not
	// act with the user's cookies.
	if !s.anyOrigin() {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	h.Add("Vary", "Origin")
	if r.Method == http.MethodOptions {
		h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
		if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
			h.Set("Access-Control-Allow-Headers", req)
		}
		h.Set("Access-Control-Max-Age", "86400")
	}
}

func (s *Server) handshake(w http.ResponseWriter, r *http.Request, transport string) {
	if transport == "polling" && r.Method != http.MethodGet {
		writeError(w, http.StatusBadRequest, errBadHandshake)
		return
	}
	if transport == "websocket" && !isUpgrade(r) {
		writeError(w, http.StatusBadRequest, errBadRequest)
		return
	}
	if s.refusing() {
		// Before any admission work: the client (or the proxy in front)
		// should try another instance at once.
		busy(w, "Server shutting down")
		return
	}
	addr := ClientAddr(r, s.opts.Limits.TrustedProxies)
	key := limitKey(addr)
	if why, ok := s.addrs.admit(key); !ok {
		s.refuseLimit(w, why, addr)
		return
	}
	leave := s.opening.enter(r.Context().Done(), false) // the handshake waits on nothing
	if leave == nil {
		s.addrs.release(key, true)
		busy(w, "Server busy")
		return
	}
	defer leave()
	c := newConn(s, randid.New(), r)
	c.addr, c.key = addr, key
	// The receiver and the silence timer are set before the connection is
	// shared: a Shutdown running now may close it at once.
	c.recv = s.open(c)
	if d := s.opts.Limits.FirstMessageTimeout; d > 0 {
		c.silence = time.AfterFunc(d, c.silent)
	}
	if !s.add(c) {
		s.addrs.release(key, true)
		writeError(w, http.StatusServiceUnavailable, errBadRequest)
		c.abort(ReasonServerShutdown)
		return
	}
	s.opts.Traffic.Opened()
	if transport == "websocket" {
		c.serveWebSocket(w, r)
		return
	}
	c.enqueue(frame{typ: typeOpen, data: s.openPacket(c.id, true)})
	c.startHeartbeat()
	c.poll(w, r)
}

func (s *Server) openPacket(sid string, canUpgrade bool) []byte {
	upgrades := []string{}
	if canUpgrade && !s.opts.DisableWebSocket {
		upgrades = append(upgrades, "websocket")
	}
	b, _ := json.Marshal(struct {
		SID          string   `json:"sid"`
		Upgrades     []string `json:"upgrades"`
		PingInterval int64    `json:"pingInterval"`
		PingTimeout  int64    `json:"pingTimeout"`
		MaxPayload   int      `json:"maxPayload"`
	}{sid, upgrades, s.opts.PingInterval.Milliseconds(), s.opts.PingTimeout.Milliseconds(), s.opts.MaxPayload})
	return b
}

func (s *Server) add(c *Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutdown {
		return false
	}
	s.conns[c.id] = c
	return true
}

// remove forgets c, and gives back what it counted for in the limits;
// called again, it does nothing.
func (s *Server) remove(c *Conn) {
	s.mu.Lock()
	_, ok := s.conns[c.id]
	delete(s.conns, c.id)
	s.mu.Unlock()
	if ok {
		s.addrs.release(c.key, c.marked.CompareAndSwap(false, true))
	}
}

// refuse answers a handshake that a bound of Limits refuses.
func (s *Server) refuseLimit(w http.ResponseWriter, why, addr string) {
	s.refuse(why, addr, "")
	switch why {
	case RefusedPerAddress:
		tooMany(w, "Too many connections from this address")
	case RefusedRate:
		tooMany(w, "Too many handshakes from this address")
	default:
		busy(w, "Server busy")
	}
}

// busy and tooMany answer a handshake refused for now: the spec has no
// code for it; the official client retries with backoff.
func busy(w http.ResponseWriter, msg string) {
	w.Header().Set("Retry-After", "1")
	writeErrorMessage(w, http.StatusServiceUnavailable, errBadRequest, msg)
}

func tooMany(w http.ResponseWriter, msg string) {
	w.Header().Set("Retry-After", "1")
	writeErrorMessage(w, http.StatusTooManyRequests, errBadRequest, msg)
}

// Unconnected returns the sessions not marked connected yet, and the
// client addresses the limits track.
func (s *Server) Unconnected() (sessions, addrs int) { return s.addrs.counts() }

func (s *Server) lookup(sid string) *Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns[sid]
}
