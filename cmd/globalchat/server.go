package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/globalchat/globalchat/chat"
	"github.com/globalchat/globalchat/httpapi"
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
}

func newServer(ctx context.Context, cfg config, log *slog.Logger) (*server, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	d, err := openDeps(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	io, err := socketio.NewServer(socketio.Options{
		Engine: engineio.Options{
			PingInterval: cfg.PingInterval, PingTimeout: cfg.PingTimeout,
			WriteDelay: cfg.WriteDelay, MaxWriteDelay: cfg.WriteDelayMax,
			MaxOpening: cfg.MaxOpening,
			// The chat reads nothing from a connection's handshake
			// headers: keeping them would cost each one a kilobyte or so.
			KeepHeaders:    []string{},
			AllowedOrigins: cfg.origins(), Logger: log,
		},
		Adapter: d.adapter,
		Recovery: &socketio.RecoveryOptions{
			MaxDisconnection: cfg.RecoveryWindow,
			Sessions:         d.sessions,
			Replayer:         chat.Replayer{Bus: d.bus, Store: d.store},
			SaveOnConnect:    d.mode == "redis",
		},
		Logger: log, Registerer: reg,
	})
	if err != nil {
		d.close()
		return nil, err
	}
	svc, err := chat.New(chat.Config{
		IO: io, Store: d.store, Bus: d.bus, Presence: d.presence, Limiter: d.limiter,
		Auth: chat.NewAuthenticator(cfg.JWTSecret), Logger: log, Registerer: reg,
		PresenceThreshold: cfg.PresenceThreshold,
	})
	if err != nil {
		d.close()
		return nil, err
	}
	d.onUserLeft(svc.UserLeft)
	handler := httpapi.Routes(httpapi.Deps{
		Chat: svc, SocketIO: io, Web: web.Handler(), Checks: d.checks,
		Gatherer: reg, Logger: log,
	})
	return &server{
		cfg: cfg, log: log, deps: d, io: io, chat: svc,
		http: &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute},
	}, nil
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
	s.log.Info("globalchat listening", "addr", ln.Addr().String(), "mode", s.deps.currentMode(), "auth", authMode(s.cfg))
	if ready != nil {
		ready <- ln.Addr().String()
	}
	errc := make(chan error, 1)
	go func() { errc <- s.http.Serve(ln) }()
	select {
	case err = <-errc:
		s.close()
		return err
	case <-ctx.Done():
	}
	s.log.Info("globalchat shutting down")
	s.chat.Close()
	shutdown, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
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

func (s *server) close() {
	s.chat.Close()
	s.deps.close()
}

func authMode(cfg config) string {
	if cfg.JWTSecret != "" {
		return "jwt"
	}
	return "guest"
}
