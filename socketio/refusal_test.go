package socketio

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/globalchat/globalchat/internal/testwait"
)

// logBuffer is a concurrency-safe log destination.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// count returns how many lines hold s.
func (b *logBuffer) count(s string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Count(b.buf.String(), s)
}

// refusalServer is a live server whose refusals can be counted and read.
func refusalServer(t *testing.T) (*liveServer, *prometheus.Registry, *logBuffer) {
	t.Helper()
	reg := prometheus.NewRegistry()
	logs := &logBuffer{}
	l := newLiveServer(t, Options{Registerer: reg, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	return l, reg, logs
}

// refused returns the refusal counter's value for reason.
func refused(t *testing.T, reg *prometheus.Registry, reason string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "socketio_refusals_total" {
			continue
		}
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					return s.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// A client of socket.io-msgpack-parser sends its CONNECT as a msgpack map
// in a binary message: it gets a CONNECT_ERROR it can decode (so its
// socket reports connect_error and does not reconnect by itself), then
// the connection closes; the refusal is counted every time and logged
// once per address.
func TestMsgpackClientGetsAConnectErrorItCanRead(t *testing.T) {
	l, reg, logs := refusalServer(t)
	connects := [][]byte{
		// {type: 0, nsp: "/custom", data: {token: "x"}}
		must(msgpack.Marshal(map[string]any{"type": 0, "nsp": "/custom", "data": map[string]any{"token": "x"}})),
		// {type: 0, data: undefined, nsp: "/custom"}, as notepack.io
		// encodes it: undefined is the extension type 0.
		append(append([]byte{0x83, 0xa4}, "type"...), append(append([]byte{0x00, 0xa4}, "data"...),
			append([]byte{0xd4, 0x00, 0x00, 0xa3}, append([]byte("nsp"), append([]byte{0xa7}, "/custom"...)...)...)...)...),
		must(msgpack.Marshal(map[string]any{"type": 0, "nsp": "/custom"})),
	}
	for i, connect := range connects {
		c := l.dial(t)
		c.sendBinary(connect)
		got := c.next()
		if !strings.HasPrefix(got, "b") {
			t.Fatalf("attempt %d: got %q, want a binary packet", i, got)
		}
		var p struct {
			Type int            `msgpack:"type"`
			Nsp  string         `msgpack:"nsp"`
			Data map[string]any `msgpack:"data"`
		}
		if err := msgpack.Unmarshal([]byte(got[1:]), &p); err != nil {
			t.Fatalf("the refusal is not msgpack: %v", err)
		}
		if p.Type != int(typeConnectError) || p.Nsp != "/custom" || p.Data["message"] != parserRefusal {
			t.Fatalf("refusal %+v", p)
		}
		c.expectClosed()
	}
	testwait.For(t, "no connection", func() bool { return l.Connections() == 0 })
	if n := refused(t, reg, RefusedParser); n != 3 {
		t.Fatalf("socketio_refusals_total{reason=%q} = %v, want 3", RefusedParser, n)
	}
	if n := logs.count("client refused"); n != 1 {
		t.Fatalf("%d log lines for 3 refusals from one address, want 1:\n%s", n, logs.buf.String())
	}
	if !strings.Contains(logs.buf.String(), "level=INFO") || !strings.Contains(logs.buf.String(), `kind="unsupported parser"`) {
		t.Fatalf("log: %s", logs.buf.String())
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// A binary message that no packet announced and that is not msgpack is
// a broken client, closed without a refusal.
func TestUnannouncedBinaryIsNoRefusal(t *testing.T) {
	l, reg, _ := refusalServer(t)
	c := l.dial(t)
	c.sendBinary([]byte{0x81, 0xa1}) // a msgpack map cut short
	c.expectClosed()
	if n := refused(t, reg, RefusedParser); n != 0 {
		t.Fatalf("refusals = %v", n)
	}
}

// Engine.IO 3 (socket.io-client 2.x) is refused with the spec's answer,
// counted and logged once per address.
func TestOldClientRefusalIsCountedAndLogged(t *testing.T) {
	l, reg, logs := refusalServer(t)
	for range 5 {
		status, body := httpDo(t, http.DefaultClient, "GET", l.ts.URL+"/socket.io/?EIO=3&transport=polling", "")
		if status != 400 || body != `{"code":5,"message":"Unsupported protocol version"}` {
			t.Fatalf("EIO=3: %d %q", status, body)
		}
	}
	if n := refused(t, reg, "unsupported protocol version"); n != 5 {
		t.Fatalf("refusals = %v, want 5", n)
	}
	if n := logs.count("client refused"); n != 1 {
		t.Fatalf("%d log lines, want 1:\n%s", n, logs.buf.String())
	}
	if !strings.Contains(logs.buf.String(), `detail="EIO=3"`) || !strings.Contains(logs.buf.String(), "key=127.0.0.1") {
		t.Fatalf("log: %s", logs.buf.String())
	}
}

// FuzzMsgpackNamespace: whatever binary a client sends out of turn, the
// check for a msgpack packet neither panics nor takes long, and a packet
// it recognises gets a refusal that decodes.
func FuzzMsgpackNamespace(f *testing.F) {
	f.Add(must(msgpack.Marshal(map[string]any{"type": 0, "nsp": "/"})))
	f.Add([]byte{0x83, 0xa4, 't', 'y', 'p', 'e', 0x00, 0xa4, 'd', 'a', 't', 'a', 0xd4, 0x00, 0x00, 0xa3, 'n', 's', 'p', 0xa1, '/'})
	f.Add([]byte{0x81, 0xa4, 'd', 'a', 't', 'a', 0xdb, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0xdf, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		nsp, ok := msgpackNamespace(data)
		if !ok {
			return
		}
		var p msgpackPacket
		if err := msgpack.Unmarshal(msgpackConnectError(nsp, parserRefusal), &p); err != nil || p.Nsp != nsp {
			t.Fatalf("refusal for %q does not decode: %v", nsp, err)
		}
	})
}
