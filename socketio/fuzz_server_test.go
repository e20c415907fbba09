package socketio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/globalchat/globalchat/socketio/engineio"
	"github.com/gobwas/ws/wsutil"
)

// FuzzServer feeds arbitrary bytes to a live server, as a POST body of a
// connected polling session or as a frame of a connected WebSocket one,
// and checks that nothing panics and the server goes on serving.
func FuzzServer(f *testing.F) {
	s, err := NewServer(Options{
		ConnectTimeout: time.Second,
		Engine:         engineio.Options{PingInterval: 300 * time.Millisecond, PingTimeout: 300 * time.Millisecond, MaxPayload: 4096},
	})
	if err != nil {
		f.Fatal(err)
	}
	echo := func(s *Socket) {
		s.Join("room")
		s.On("message", func(s *Socket, e *Event) {
			if v, err := e.Values(); err == nil {
				s.Emit("message-back", v...)
				s.Namespace().To("room").Emit("broadcast", v...)
			}
		})
		s.On("ack", func(s *Socket, e *Event) {
			if v, err := e.Values(); err == nil && e.HasAck() {
				e.Ack(v...)
			}
		})
	}
	s.Of("/").OnConnection(echo)
	s.Of("/admin").Use(func(s *Socket) error {
		var auth struct{ Token string }
		if json.Unmarshal(s.Handshake().Auth, &auth) != nil || auth.Token != "t" {
			return &ConnectError{Message: "no"}
		}
		return nil
	})
	s.Of("/admin").OnConnection(echo)

	var panicked atomic.Value
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				panicked.Store(fmt.Sprintf("%v\n%s", p, debug.Stack()))
			}
		}()
		s.ServeHTTP(w, r)
	}))
	f.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		s.Shutdown(ctx)
		ts.Close()
	})
	l := &liveServer{s, ts}
	client := &http.Client{Timeout: waitFor}

	for _, seed := range []string{
		`42["message","hi"]`,
		`421["ack",{"a":[1,2]}]`,
		"451-[\"message\",{\"_placeholder\":true,\"num\":0}]\x1ebAQID",
		`40/admin,{"token":"t"}`,
		`42/admin,["message",1]`,
		`41`, `1`, `2`, `2probe`, `5`, `6`, `0`, `abc`, ``,
		`42["message",{"_placeholder":true,"num":3}]`,
		`43["ack"]`, `444`, "4\x1e4",
	} {
		f.Add([]byte(seed), false, false)
		f.Add([]byte(seed), true, false)
	}
	f.Add([]byte{1, 2, 3}, true, true)

	f.Fuzz(func(t *testing.T, data []byte, websocket, binary bool) {
		if websocket {
			fuzzWebSocket(t, l, data, binary)
		} else {
			fuzzPolling(t, l, client, data)
		}
		// The server still serves.
		status, body := httpDo(t, client, "GET", l.pollURL(""), "")
		if status != 200 || !strings.HasPrefix(body, "0{") {
			t.Fatalf("handshake after the input: %d %q", status, body)
		}
		var open struct{ SID string }
		json.Unmarshal([]byte(body[1:]), &open)
		httpDo(t, client, "POST", l.pollURL(open.SID), "1")
		if p := panicked.Load(); p != nil {
			t.Fatalf("panic: %s", p)
		}
	})
}

func fuzzPolling(t *testing.T, l *liveServer, client *http.Client, data []byte) {
	status, body := httpDo(t, client, "GET", l.pollURL(""), "")
	var open struct{ SID string }
	if status != 200 || json.Unmarshal([]byte(strings.TrimPrefix(body, "0")), &open) != nil {
		t.Fatalf("handshake: %d %q", status, body)
	}
	if status, body := httpDo(t, client, "POST", l.pollURL(open.SID), "40"); status != 200 {
		t.Fatalf("CONNECT: %d %q", status, body)
	}
	switch status, body := httpDo(t, client, "POST", l.pollURL(open.SID), string(data)); status {
	case 200, 400, 413:
	default:
		t.Fatalf("POST %q: %d %q", data, status, body)
	}
	httpDo(t, client, "POST", l.pollURL(open.SID), "1")
}

func fuzzWebSocket(t *testing.T, l *liveServer, data []byte, binary bool) {
	c := l.dial(t)
	defer c.Net().Close()
	c.connect("/")
	if binary {
		wsutil.WriteClientBinary(c.Net(), data)
	} else {
		wsutil.WriteClientText(c.Net(), data)
	}
	// Whatever the server makes of it, it answers a ping or closes.
	wsutil.WriteClientText(c.Net(), []byte("2"))
	for {
		p, err := c.readEngine()
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("after %q: no answer to a ping", data)
		}
		if err != nil || p == "3" || p == "1" {
			return
		}
	}
}
