// Command conformance serves the server side of the official Socket.IO and
// Engine.IO protocol test suites (socketio/socket.io-protocol and
// socketio/engine.io-protocol, test-suite/): Socket.IO at /socket.io/ and a
// bare Engine.IO echo at /engine.io/. It is also the smallest example of
// the socketio API.
package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/globalchat/globalchat/socketio"
	"github.com/globalchat/globalchat/socketio/engineio"
)

func main() {
	addr := flag.String("addr", ":3000", "listen address")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, log); err != nil {
		log.Error("conformance server", "err", err)
		os.Exit(1)
	}
}

// engineOptions are the timings the test suites expect.
var engineOptions = engineio.Options{
	PingInterval: 300 * time.Millisecond,
	PingTimeout:  200 * time.Millisecond,
	MaxPayload:   1_000_000,
	// The suites' clients send no Origin or a foreign one: allow any.
	AllowedOrigins: []string{"*"},
}

func run(ctx context.Context, addr string, log *slog.Logger) error {
	handler, err := newHandler(log)
	if err != nil {
		return err
	}
	srv := &http.Server{Addr: addr, Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	log.Info("conformance server listening", "addr", addr)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newHandler wires the two endpoints.
func newHandler(log *slog.Logger) (http.Handler, error) {
	io, err := socketio.NewServer(socketio.Options{Engine: engineOptions, ConnectTimeout: time.Second, Logger: log})
	if err != nil {
		return nil, err
	}
	main := io.Of("/")
	main.OnConnection(func(s *socketio.Socket) {
		s.Emit("auth", authOf(s))
		s.On("message", func(s *socketio.Socket, e *socketio.Event) {
			if args, err := e.Values(); err == nil {
				s.Emit("message-back", args...)
			}
		})
		s.On("message-with-ack", func(s *socketio.Socket, e *socketio.Event) {
			if args, err := e.Values(); err == nil && e.HasAck() {
				e.Ack(args...)
			}
		})
	})
	io.Of("/custom").OnConnection(func(s *socketio.Socket) {
		s.Emit("auth", authOf(s))
	})

	echo := engineio.NewServer(engineOptions, func(c *engineio.Conn) engineio.Receiver { return echoer{c} })
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", io)
	mux.Handle("/engine.io/", echo)
	return mux, nil
}

// authOf returns the handshake's auth payload, {} when there was none.
func authOf(s *socketio.Socket) any {
	if a := s.Handshake().Auth; a != nil {
		return a
	}
	return map[string]any{}
}

// echoer sends every Engine.IO message back.
type echoer struct{ c *engineio.Conn }

func (e echoer) OnMessage(data []byte, binary bool) {
	e.c.Send(engineio.Message{Data: append([]byte(nil), data...), Binary: binary})
}

func (echoer) OnClose(engineio.Reason) {}
