package socketio_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/globalchat/globalchat/internal/testenv"
	"github.com/globalchat/globalchat/socketio"
	"github.com/globalchat/globalchat/socketio/engineio"
)

// newTestServer is the server the official client drives in
// jstest/socketio.mjs: echo, acks both ways, binary, a refusing
// namespace, server disconnect, rooms and recovery.
func newTestServer(t *testing.T) *socketio.Server {
	t.Helper()
	io, err := socketio.NewServer(socketio.Options{
		Engine:   engineio.Options{PingInterval: 300 * time.Millisecond, PingTimeout: 400 * time.Millisecond},
		Recovery: &socketio.RecoveryOptions{MaxDisconnection: 10 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	main := io.Of("/")
	main.OnConnection(func(s *socketio.Socket) {
		auth := any(map[string]any{})
		if s.Handshake().Auth != nil {
			auth = s.Handshake().Auth
		}
		s.Emit("auth", auth)
		s.On("message", func(s *socketio.Socket, e *socketio.Event) {
			args, err := e.Values()
			if err != nil {
				t.Errorf("values: %v", err)
			}
			s.Emit("message-back", args...)
		})
		s.On("message-with-ack", func(s *socketio.Socket, e *socketio.Event) {
			args, _ := e.Values()
			e.Ack(args...)
		})
		s.On("request-server-ack", func(s *socketio.Socket, e *socketio.Event) {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				defer cancel()
				res, err := s.EmitWithAck(ctx, "server-ack", e.Args[0])
				if err != nil || len(res) != 1 {
					t.Errorf("server ack: %v %v", res, err)
					return
				}
				s.Emit("server-ack-result", res[0])
			}()
		})
		s.On("disconnect-me", func(s *socketio.Socket, e *socketio.Event) { s.Disconnect() })
		s.On("join", func(s *socketio.Socket, e *socketio.Event) {
			var room string
			if err := jsonArg(e, &room); err == nil {
				s.Join(room)
			}
			e.Ack(true)
		})
		s.On("broadcast", func(s *socketio.Socket, e *socketio.Event) {
			var room string
			jsonArg(e, &room)
			if err := s.Namespace().To(room).Emit("tick", e.Args[1]); err != nil {
				t.Errorf("broadcast: %v", err)
			}
			e.Ack(true)
		})
	})
	private := io.Of("/private")
	private.Use(func(s *socketio.Socket) error {
		var auth struct{ Token string }
		if err := unmarshal(s.Handshake().Auth, &auth); err != nil || auth.Token != "secret" {
			return &socketio.ConnectError{Message: "unauthorized", Data: map[string]string{"hint": "token"}}
		}
		return nil
	})
	return io
}

func TestOfficialClient(t *testing.T) {
	io := newTestServer(t)
	srv := httptest.NewServer(io)
	defer srv.Close()
	defer io.Shutdown(context.Background())
	testenv.Node(t, 2*time.Minute, "jstest/socketio.mjs", "SERVER_URL="+srv.URL)
}
