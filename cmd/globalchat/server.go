package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/globalchat/globalchat"
	"github.com/globalchat/globalchat/chat"
	"github.com/globalchat/globalchat/httpapi"
	"github.com/globalchat/globalchat/internal/logsample"
	"github.com/globalchat/globalchat/redis"
	"github.com/globalchat/globalchat/socketio"
	"github.com/globalchat/globalchat/socketio/engineio"
	"github.com/globalchat/globalchat/web"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// server is the wired process: dependencies, Socket.IO, chat, HTTP.
type server struct {
	cfg  config
	log  *slog.Logger
	deps *deps
	io   *socketio.Server
	chat *chat.Service
	http *http.Server
	acct *accounting
	// stopSampler ends the sampled logs' summaries.
	stopSampler context.CancelFunc
	reg         *prometheus.Registry // for METRICS_ADDR
	// draining is set at SIGTERM: /readyz answers 503 from then on.
	draining *atomic.Bool
}

func newServer(ctx context.Context, cfg config, log *slog.Logger) (*server, error) {
	reg := prometheus.NewRegistry()
	// The scheduler's metrics include go_sched_latencies_seconds: how long
	// runnable goroutines wait for a core, the first sign of an instance
	// short of CPU (a redeploy's reconnects, a storm).
	reg.MustRegister(collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(collectors.MetricsScheduler)),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// One name for this instance, in presence and in the accounting.
	cfg.InstanceID = cfg.instanceID()
	if cfg.RedisURL != "" {
		cfg.redisMetrics = redis.NewCommandMetrics(reg)
	}
	state := globalchat.NewState(log, modeMetrics(reg))
	d, err := openDeps(ctx, cfg, log, state)
	if err != nil {
		return nil, err
	}
	logState(log, cfg, d.redisOn.Load(), d.modeName())
	s := &server{cfg: cfg, log: log, deps: d, reg: reg, draining: new(atomic.Bool)}
	s.acct = newAccounting(cfg, d.bandwidth, reg)
	auth, err := s.openChat(ctx, state)
	if err != nil {
		d.close()
		return nil, err
	}
	s.http = &http.Server{Handler: s.routes(auth, state), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		// net/http reads up to 4 KB past MaxHeaderBytes: the bound is
		// MAX_HEADER_BYTES in all.
		MaxHeaderBytes: cfg.Edge.MaxHeaderBytes - 4096}
	registerQueues(reg, s.io)
	s.acct.start(cfg.InstanceID, func(ctx context.Context) (int, error) {
		n, _, err := s.chat.Online(ctx, 0)
		return n, err
	}, log)
	return s, nil
}

// openChat builds Socket.IO and the chat on the server's dependencies,
// and starts the sampled log of client mistakes; it returns the
// authenticator the HTTP API shares.
func (s *server) openChat(ctx context.Context, state *globalchat.State) (*chat.Authenticator, error) {
	cfg, d := s.cfg, s.deps
	// Client mistakes (refused connections, invalid messages) are logged
	// sampled per address: a hostile client cannot flood the log.
	sampler := logsample.New(s.log, logsample.Options{})
	io, err := socketio.NewServer(ioOptions(cfg, d, s.acct, s.log, s.reg))
	if err != nil {
		return nil, err
	}
	auth, err := authenticator(ctx, cfg, d.store)
	if err != nil {
		return nil, err
	}
	svc, err := chat.New(chat.Config{
		IO: io, Store: d.store, Bus: d.bus, Presence: d.presence, Limiter: d.limiter, Typing: d.typing,
		AddressLimiter: addressLimiter(cfg.Edge.MessagesPerAddress),
		JoinLimiter:    addressLimiter(cfg.Edge.JoinsPerAddress),
		Auth:           auth, Logger: s.log, Registerer: s.reg,
		PresenceThreshold: cfg.PresenceThreshold, LeaveGrace: cfg.LeaveGrace, Traffic: s.acct.chat(), Sampler: sampler, State: state,
	})
	if err != nil {
		return nil, err
	}
	registerSpool(s.reg, d)
	d.onUserLeft(svc.UserLeft)
	d.chat.Store(svc)
	resave := func() { s.log.Info("recovery sessions saved again", "sockets", io.SaveSessions()) }
	d.sessionsLost.Store(&resave)
	samplerCtx, stopSampler := context.WithCancel(context.Background())
	go sampler.Run(samplerCtx)
	s.io, s.chat, s.stopSampler = io, svc, stopSampler
	return auth, nil
}

// routes is what the HTTP server serves: the API, Socket.IO, the web
// client, the dashboard, health and metrics.
func (s *server) routes(auth *chat.Authenticator, state *globalchat.State) http.Handler {
	return httpapi.Routes(httpapi.Deps{
		Draining: s.draining.Load,
		Chat:     s.chat, SocketIO: s.io, Web: web.Handler(), Checks: s.deps.checks, Mode: state.Mode,
		Gatherer: s.reg, Registerer: s.reg, Meter: s.acct.meter, Logger: s.log,
		Admin:     httpapi.Admin{Token: s.cfg.AdminToken, Stats: s.acct.store, Instance: s.cfg.InstanceID, Page: web.Handler()},
		Authorize: auth.Authorize, MetricsOff: s.cfg.MetricsAddr != "", MetricsToken: s.cfg.AdminToken,
	})
}

// ioOptions are the Socket.IO server's options.
func ioOptions(cfg config, d *deps, acct *accounting, log *slog.Logger, reg prometheus.Registerer) socketio.Options {
	return socketio.Options{
		Engine: engineio.Options{
			PingInterval: cfg.PingInterval, PingTimeout: cfg.PingTimeout,
			WriteDelay: cfg.WriteDelay, MaxWriteDelay: cfg.WriteDelayMax, LazyDelay: cfg.LazyDelay,
			MaxOpening: cfg.MaxOpening,
			// The chat reads nothing from a connection's handshake
			// headers: keeping them would cost each one a kilobyte or so.
			KeepHeaders:    []string{},
			AllowedOrigins: cfg.origins(), Logger: log,
			Traffic: acct.engine(),
			Limits:  cfg.Edge.limits(),
		},
		// A client refused at CONNECT closes its connection itself; one
		// that does not is closed after this, and counts as unconnected
		// (MAX_UNCONNECTED) until then.
		ConnectTimeout:     20 * time.Second,
		MaxAttachments:     cfg.Edge.MaxAttachments,
		MaxAttachmentBytes: cfg.Edge.MaxAttachmentBytes,
		Adapter:            d.adapter,
		LazyEvents:         chat.LazyEvents,
		Recovery: &socketio.RecoveryOptions{
			MaxDisconnection: cfg.RecoveryWindow,
			Sessions:         d.sessions,
			Replayer:         chat.Replayer{Bus: d.bus, Store: d.store, Delivered: d.delivered, Recent: d.recent},
			// Sessions saved at connect are for the other instances:
			// only once they are kept in Redis.
			SaveOnConnect: d.redisOn.Load,
		},
		Logger: log, Registerer: reg,
	}
}

// serve listens until ctx is done, then shuts down: stop accepting, close
// the client sessions (they stay recoverable, so clients reconnect, to
// another instance if need be, without losing anything), flush the store.
func (s *server) serve(ctx context.Context, ready chan<- string) error {
	ln, err := net.Listen("tcp", net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port)))
	if err != nil {
		s.close()
		return fmt.Errorf("listen: %w", err)
	}
	s.log.Info("globalchat listening", "addr", ln.Addr().String(), "mode", s.deps.modeName(), "auth", authMode(s.cfg),
		"bandwidth_accounting", s.cfg.Accounting, "version", versionString())
	if ready != nil {
		ready <- ln.Addr().String()
	}
	stopMetrics, err := s.serveMetrics()
	if err != nil {
		ln.Close()
		s.close()
		return err
	}
	defer stopMetrics()
	errc := make(chan error, 1)
	go func() { errc <- s.http.Serve(ln) }()
	select {
	case err = <-errc:
		s.close()
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), s.cfg.DrainWindow+s.cfg.ShutdownTimeout)
	defer cancel()
	s.drain(shutdown)
	httpDone := make(chan error, 1)
	go func() { httpDone <- s.http.Shutdown(shutdown) }()
	ioErr := s.io.Shutdown(shutdown)
	httpErr := <-httpDone
	if errors.Is(<-errc, http.ErrServerClosed) {
		err = nil
	}
	s.close()
	s.log.Info("globalchat stopped")
	return errors.Join(err, ioErr, httpErr)
}

// drain is the first part of a shutdown: /readyz answers 503 from now
// on, new sessions are refused, and the open connections are closed
// spread over DRAIN_WINDOW as lost transports (not Socket.IO
// disconnects), so that their clients reconnect at once, through the
// proxy, to the other instances, where they recover what was sent
// meanwhile from the sessions kept in Redis. Presence announcements stop
// first: those clients are moving, not leaving. It waits at most
// DRAIN_WINDOW + SHUTDOWN_TIMEOUT (ctx) in all, the stop included.
func (s *server) drain(ctx context.Context) {
	s.draining.Store(true)
	s.chat.Close()
	n := s.io.Connections()
	s.log.Info("globalchat shutting down: draining", "connections", n, "window", s.cfg.DrainWindow)
	start := time.Now()
	if err := s.io.Drain(ctx, s.cfg.DrainWindow); err != nil {
		s.log.Warn("globalchat drain cut short", "left", s.io.Connections(), "after", time.Since(start), "err", err)
		return
	}
	s.log.Info("globalchat drained", "connections", n, "took", time.Since(start))
}

func (s *server) close() {
	s.chat.Close()
	s.acct.close()
	s.stopSampler()
	s.deps.close()
}

// guestSecretName names the guest signing key in the message database.
const guestSecretName = "guest-token-key"

// authenticator builds the chat's authenticator. In guest mode the key
// that signs guest tokens is GUEST_SECRET or else the one kept in the
// message database (generated by the first instance that needed it), so
// that every instance, and every restart, knows the same guests.
func authenticator(ctx context.Context, cfg config, store globalchat.MessageStore) (*chat.Authenticator, error) {
	if cfg.JWTSecret != "" {
		return chat.NewAuthenticator(cfg.JWTSecret, nil), nil
	}
	key := []byte(cfg.GuestSecret)
	if len(key) == 0 {
		if _, pending := store.(*pendingStore); pending {
			return nil, errors.New("MYSQL_DSN: MySQL is unreachable and keeps the guest signing key: set GUEST_SECRET (the same on every instance) to start without it")
		}
		secrets, ok := store.(globalchat.SecretStore)
		if !ok {
			return nil, errors.New("GUEST_SECRET is required: the message store keeps no secrets")
		}
		fresh := make([]byte, 32)
		rand.Read(fresh)
		var err error
		if key, err = secrets.Secret(ctx, guestSecretName, fresh); err != nil {
			return nil, fmt.Errorf("guest signing key: %w", err)
		}
	}
	guests, err := chat.NewGuests(key)
	if err != nil {
		return nil, err
	}
	return chat.NewAuthenticator("", guests), nil
}

func authMode(cfg config) string {
	if cfg.JWTSecret != "" {
		return "jwt"
	}
	return "guest"
}

// modeMetrics registers the mode gauge and the transitions counter, and
// returns what updates them.
func modeMetrics(reg prometheus.Registerer) func(from, to globalchat.Mode) {
	mode := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "globalchat_mode", Help: "1 for the mode the instance is in: normal, redis away, store away, redis and store away.",
	}, []string{"mode"})
	moves := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "globalchat_mode_changes_total", Help: "Moves between modes (fallbacks and returns), by the mode entered.",
	}, []string{"to"})
	reg.MustRegister(mode, moves)
	for _, m := range globalchat.Modes {
		mode.WithLabelValues(m.String()).Set(0)
	}
	mode.WithLabelValues(globalchat.ModeNormal.String()).Set(1)
	return func(from, to globalchat.Mode) {
		mode.WithLabelValues(from.String()).Set(0)
		mode.WithLabelValues(to.String()).Set(1)
		moves.WithLabelValues(to.String()).Inc()
	}
}

// registerSpool exports the Redis spool's depth, in Redis mode.
func registerSpool(reg prometheus.Registerer, d *deps) {
	rb := d.redisBus
	if rb == nil {
		return
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "globalchat_spool_depth", Help: "Messages in the Redis spool that the store has not taken yet.",
	}, func() float64 {
		n, err := rb.SpoolDepth(context.Background())
		if err != nil {
			return -1
		}
		return float64(n)
	}))
}
