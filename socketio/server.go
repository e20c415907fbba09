package socketio

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/globalchat/globalchat/internal/logsample"
	"github.com/globalchat/globalchat/internal/randid"
	"github.com/globalchat/globalchat/socketio/engineio"
	"github.com/prometheus/client_golang/prometheus"
)

// Options configure a Server.
type Options struct {
	// Engine configures the transport: heartbeat, maxPayload, origins,
	// outbound queue bounds.
	Engine engineio.Options
	// ConnectTimeout: a client that joins no namespace within it is
	// closed. Default 45s.
	ConnectTimeout time.Duration
	// MaxAttachments bounds the binary attachments one packet may
	// announce (socket.io's parser allows 10); default 10.
	MaxAttachments int
	// MaxAttachmentBytes bounds the attachments a connection holds while
	// it waits for the rest of a packet's; default Engine.MaxPayload.
	MaxAttachmentBytes int
	// Adapter carries broadcasts to other instances; default LocalAdapter.
	Adapter Adapter
	// Recovery turns connection state recovery on when not nil.
	Recovery *RecoveryOptions
	// LazyEvents names the events whose broadcasts are informational
	// (presence, typing): each may wait up to Engine.LazyDelay to leave
	// in the write of another message rather than cost a write of its
	// own. Decided where a broadcast is delivered, so that it holds for
	// broadcasts from other instances too.
	LazyEvents []string
	Logger     *slog.Logger
	// Registerer receives the server's metrics; nil for none.
	Registerer prometheus.Registerer
}

// RecoveryOptions configure connection state recovery.
type RecoveryOptions struct {
	// MaxDisconnection is how long a lost session can be recovered.
	// Default 2 minutes.
	MaxDisconnection time.Duration
	// Sessions keeps lost sessions; default in memory.
	Sessions SessionStore
	// Replayer finds the packets a session missed. By default the server
	// keeps a log of its broadcasts in memory and gives each one an
	// offset itself; with a Replayer of its own, the application gives
	// the offsets (BroadcastOperator.WithOffset) and broadcasts without
	// one are not replayed.
	Replayer Replayer
	// SaveOnConnect, when it returns true, also saves each session when
	// it connects, kept for ConnectedTTL, so that the clients of an
	// instance that dies (and so saves nothing) recover on another one.
	// For a shared SessionStore; asked at each connect, so that it follows
	// the store in use. Nil: never.
	SaveOnConnect func() bool
	// ConnectedTTL bounds a session saved at connect; default 24h.
	ConnectedTTL time.Duration
}

func (r *RecoveryOptions) maxDisconnection() time.Duration {
	if r == nil {
		return 0
	}
	return r.MaxDisconnection
}

// Server is a Socket.IO server. Mount it at /socket.io/.
type Server struct {
	opts     Options
	engine   *engineio.Server
	log      *slog.Logger
	metrics  *metrics
	adapter  Adapter
	memLog   *memoryLog // the default Replayer, when recovery uses it
	instance string     // prefix of automatic offsets
	lazy     [][]byte   // LazyEvents, each as a JSON string
	offsets  atomic.Uint64
	refusals *refusals
	stop     context.CancelFunc // ends the refusal log's summaries

	mu   sync.RWMutex
	nsps map[string]*Namespace
}

// NewServer returns a server with the main namespace "/" created, and
// starts its adapter.
func NewServer(opts Options) (*Server, error) {
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 45 * time.Second
	}
	if opts.Adapter == nil {
		opts.Adapter = LocalAdapter{}
	}
	if opts.MaxAttachments <= 0 {
		opts.MaxAttachments = 10
	}
	if opts.MaxAttachmentBytes <= 0 {
		opts.MaxAttachmentBytes = max(opts.Engine.MaxPayload, 1_000_000)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Engine.Logger == nil {
		opts.Engine.Logger = opts.Logger
	}
	s := &Server{opts: opts, log: opts.Logger, adapter: opts.Adapter, nsps: make(map[string]*Namespace), instance: randid.New()[:8],
		lazy: quoted(opts.LazyEvents)}
	if r := opts.Recovery; r != nil {
		if r.MaxDisconnection <= 0 {
			r.MaxDisconnection = 2 * time.Minute
		}
		if r.ConnectedTTL <= 0 {
			r.ConnectedTTL = 24 * time.Hour
		}
		if r.Sessions == nil {
			r.Sessions = newMemorySessions()
		}
		if r.Replayer == nil {
			s.memLog = newMemoryLog(r.MaxDisconnection, 10_000)
			r.Replayer = s.memLog
		}
	}
	s.metrics = newMetrics(opts.Registerer)
	s.startRefusals()
	s.engine = engineio.NewServer(s.opts.Engine, s.open)
	s.Of("/")
	if err := s.adapter.Start(context.Background(), s.deliverRemote); err != nil {
		return nil, err
	}
	return s, nil
}

// ServeHTTP serves the Engine.IO endpoint.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.engine.ServeHTTP(w, r) }

// Of returns the namespace with that name, creating it.
func (s *Server) Of(name string) *Namespace {
	if name == "" || name[0] != '/' {
		name = "/" + name
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.nsps[name]
	if !ok {
		n = newNamespace(s, name)
		s.nsps[name] = n
	}
	return n
}

func (s *Server) namespace(name string) *Namespace {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.nsps[name]
}

// SaveSessions saves the session of every connected socket again, as
// SaveOnConnect does at connect: for a shared SessionStore that lost them
// (a Redis that lost its data), so that the clients of an instance that
// dies later still recover elsewhere. It returns how many it saved.
func (s *Server) SaveSessions() int {
	r := s.opts.Recovery
	if r == nil || r.SaveOnConnect == nil || !r.SaveOnConnect() {
		return 0
	}
	s.mu.RLock()
	nsps := make([]*Namespace, 0, len(s.nsps))
	for _, n := range s.nsps {
		nsps = append(nsps, n)
	}
	s.mu.RUnlock()
	saved := 0
	for _, n := range nsps {
		n.mu.RLock()
		socks := make([]*Socket, 0, len(n.sockets))
		for _, sock := range n.sockets {
			socks = append(socks, sock)
		}
		n.mu.RUnlock()
		for _, sock := range socks {
			sock.saveSession(sock.Rooms(), r.ConnectedTTL)
			saved++
		}
	}
	return saved
}

// Queued returns the frames and bytes waiting in the connections'
// outbound queues.
func (s *Server) Queued() (frames, bytes int) { return s.engine.Queued() }

// Connections returns the number of open Engine.IO connections.
func (s *Server) Connections() int { return s.engine.Len() }

// Drain refuses new connections and closes the open ones spread over
// window, each after the message it is handling has been answered, as
// Shutdown does (their sessions stay recoverable); it returns when all are
// closed or ctx is done. The adapter keeps running meanwhile, so that the
// connections not closed yet still get every broadcast: call Shutdown
// after it.
func (s *Server) Drain(ctx context.Context, window time.Duration) error {
	return s.engine.Drain(ctx, window)
}

// Shutdown closes every connection (their sessions stay recoverable, so
// clients reconnect, elsewhere if need be, without losing what was sent)
// and stops the adapter.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.engine.Shutdown(ctx)
	s.stop()
	return errors.Join(err, s.adapter.Close())
}

// startRefusals sets up the reporting of refused clients, the Engine.IO
// layer's included (after the application's own hook, if any).
func (s *Server) startRefusals() {
	sampler := logsample.New(s.log, logsample.Options{})
	s.refusals = &refusals{metrics: s.metrics, log: sampler}
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	go sampler.Run(ctx)
	app := s.opts.Engine.Refused
	s.opts.Engine.Refused = func(r engineio.Refusal) {
		if app != nil {
			app(r)
		}
		s.refusals.report(r)
	}
}

func (s *Server) open(c *engineio.Conn) engineio.Receiver {
	cl := &client{srv: s, conn: c}
	cl.timer = time.AfterFunc(s.opts.ConnectTimeout, cl.connectTimeout)
	s.metrics.connections.Inc()
	return cl
}

// deliverRemote delivers another instance's broadcast to local sockets.
func (s *Server) deliverRemote(b Broadcast) {
	if n := s.namespace(b.Namespace); n != nil {
		b.Emitted = time.Now().UnixNano()
		off := b.recoveryOffset() // read once, for every socket
		n.deliver(b)
		if s.memLog != nil && off != "" {
			s.memLog.append(off, b)
		}
	}
}

// nextOffset returns a fresh automatic offset.
func (s *Server) nextOffset() string {
	return s.instance + "-" + itoa(s.offsets.Add(1))
}
