package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func get(t *testing.T, url string) string {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

func post(t *testing.T, url, body string) {
	t.Helper()
	res, err := http.Post(url, "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
}

// open starts a long-polling session at path and returns its URL.
func open(t *testing.T, base, path string) string {
	t.Helper()
	hello := get(t, base+path+"?EIO=4&transport=polling")
	var h struct {
		SID          string `json:"sid"`
		PingInterval int    `json:"pingInterval"`
		MaxPayload   int    `json:"maxPayload"`
	}
	if err := json.Unmarshal([]byte(strings.TrimPrefix(hello, "0")), &h); err != nil || h.PingInterval != 300 || h.MaxPayload != 1_000_000 {
		t.Fatalf("handshake %q: %v", hello, err)
	}
	return base + path + "?EIO=4&transport=polling&sid=" + h.SID
}

func TestConformanceServer(t *testing.T) {
	h, err := newHandler(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	eio := open(t, srv.URL, "/engine.io/")
	post(t, eio, "4hello\x1ebAQID")
	if got := get(t, eio); got != "4hello\x1ebAQID" {
		t.Fatalf("engine.io echo: %q", got)
	}

	sio := open(t, srv.URL, "/socket.io/")
	post(t, sio, `40{"token":"123"}`)
	if got := get(t, sio); !strings.HasPrefix(got, `40{"sid":`) || !strings.HasSuffix(got, "\x1e"+`42["auth",{"token":"123"}]`) {
		t.Fatalf("connect: %q", got)
	}
	post(t, sio, `42["message",1,"2",{"3":[true]}]`)
	if got := get(t, sio); got != `42["message-back",1,"2",{"3":[true]}]` {
		t.Fatalf("message-back: %q", got)
	}
	post(t, sio, `421["message-with-ack","a"]`)
	if got := get(t, sio); got != `431["a"]` {
		t.Fatalf("ack: %q", got)
	}
	post(t, sio, "40/random,")
	if got := get(t, sio); got != `44/random,{"message":"Invalid namespace"}` {
		t.Fatalf("refusal: %q", got)
	}
}
