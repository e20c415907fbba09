package engineio

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/globalchat/globalchat/internal/testwait"
)

func TestClientAddr(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	for _, tc := range []struct {
		remote, xff, want string
	}{
		{"203.0.113.7:5000", "", "203.0.113.7"},
		{"203.0.113.7:5000", "1.2.3.4", "203.0.113.7"}, // not a proxy: its header is the client's own
		{"10.0.0.2:5000", "", "10.0.0.2"},
		{"10.0.0.2:5000", "198.51.100.9", "198.51.100.9"},
		{"10.0.0.2:5000", "6.6.6.6, 198.51.100.9", "198.51.100.9"},           // what the client wrote is left of what nginx added
		{"10.0.0.2:5000", "6.6.6.6, 198.51.100.9, 10.0.0.3", "198.51.100.9"}, // through two proxies
		{"10.0.0.2:5000", "garbage, 198.51.100.9", "198.51.100.9"},           // stops at the last good hop
		{"10.0.0.2:5000", "198.51.100.9, garbage", "10.0.0.2"},               // a proxy wrote nothing usable
		{"[::1]:5000", "2001:db8::1", "2001:db8::1"},
		{"[::ffff:203.0.113.7]:5000", "", "203.0.113.7"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := ClientAddr(r, proxies); got != tc.want {
			t.Errorf("%s with %q: %q, want %q", tc.remote, tc.xff, got, tc.want)
		}
	}
	if limitKey("2001:db8:1:2:3:4:5:6") != limitKey("2001:db8:1:2:ffff::1") || limitKey("1.2.3.4") != "1.2.3.4" {
		t.Error("an IPv6 client is not counted by its /64")
	}
}

func TestAddrTableRateAndSweep(t *testing.T) {
	now := time.Unix(1000, 0)
	tbl := newAddrTable(Limits{HandshakeRate: 2, HandshakeBurst: 3}, func() time.Time { return now })
	for i := range 3 {
		if why, ok := tbl.admit("a"); !ok {
			t.Fatalf("handshake %d refused: %s", i, why)
		}
		tbl.release("a", true)
	}
	if why, ok := tbl.admit("a"); ok || why != RefusedRate {
		t.Fatalf("burst exceeded: %q %v", why, ok)
	}
	if _, ok := tbl.admit("b"); !ok {
		t.Fatal("another address refused")
	}
	tbl.release("b", true)
	now = now.Add(500 * time.Millisecond) // one more token
	if _, ok := tbl.admit("a"); !ok {
		t.Fatal("refused after refill")
	}
	tbl.release("a", true)
	now = now.Add(sweepEvery)
	tbl.admit("c")
	if unconnected, addrs := tbl.counts(); unconnected != 1 || addrs != 1 {
		t.Fatalf("after the sweep: %d unconnected, %d addresses, want 1 and 1 (c only)", unconnected, addrs)
	}
}

// limited is a harness whose clients all come from 127.0.0.1 unless they
// name another address through the trusted proxy (the test's own peer).
func limited(t *testing.T, l Limits) (*harness, *[]string) {
	var mu sync.Mutex
	var refused []string
	l.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	h := newHarness(t, Options{Limits: l, Refused: func(r Refusal) {
		mu.Lock()
		refused = append(refused, r.Reason+" "+r.Addr)
		mu.Unlock()
	}})
	return h, &refused
}

func (h *harness) handshakeFrom(addr string) response {
	h.t.Helper()
	var hdr http.Header
	if addr != "" {
		hdr = http.Header{"X-Forwarded-For": {addr}}
	}
	return h.do("GET", h.url("polling", ""), "", hdr)
}

func TestPerAddressLimit(t *testing.T) {
	h, refused := limited(t, Limits{PerAddress: 2})
	var sids []string
	for range 2 {
		res := h.handshakeFrom("192.0.2.1")
		if res.status != http.StatusOK {
			t.Fatalf("handshake: %d %s", res.status, res.body)
		}
		sids = append(sids, parseOpen(t, res.body).SID)
		h.accept()
	}
	res := h.handshakeFrom("192.0.2.1")
	expectError(t, res, http.StatusTooManyRequests, errBadRequest)
	if !strings.Contains(res.body, "Too many connections from this address") || res.header.Get("Retry-After") == "" {
		t.Fatalf("refusal: %s %v", res.body, res.header)
	}
	if got := *refused; len(got) != 1 || got[0] != RefusedPerAddress+" 192.0.2.1" {
		t.Fatalf("refusals reported: %q", got)
	}
	if res := h.handshakeFrom("192.0.2.2"); res.status != http.StatusOK {
		t.Fatalf("another address: %d %s", res.status, res.body)
	}
	h.accept()
	h.post(sids[0], "1") // the client closes one: its place is free again
	testwait.For(t, "slot freed", func() bool { return h.handshakeFrom("192.0.2.1").status == http.StatusOK })
}

func TestHandshakeRateLimit(t *testing.T) {
	h, refused := limited(t, Limits{HandshakeRate: 1, HandshakeBurst: 2})
	for range 2 {
		if res := h.handshakeFrom(""); res.status != http.StatusOK {
			t.Fatalf("handshake: %d %s", res.status, res.body)
		}
	}
	res := h.handshakeFrom("")
	expectError(t, res, http.StatusTooManyRequests, errBadRequest)
	if !strings.Contains(res.body, "Too many handshakes") || len(*refused) != 1 || (*refused)[0] != RefusedRate+" 127.0.0.1" {
		t.Fatalf("refusal: %s %q", res.body, *refused)
	}
}

func TestMaxUnconnected(t *testing.T) {
	h, _ := limited(t, Limits{MaxUnconnected: 2})
	for i := range 2 {
		if res := h.handshakeFrom("192.0.2." + string(rune('1'+i))); res.status != http.StatusOK {
			t.Fatalf("handshake: %d %s", res.status, res.body)
		}
	}
	first := h.accept()
	h.accept()
	res := h.handshakeFrom("192.0.2.9")
	expectError(t, res, http.StatusServiceUnavailable, errBadRequest)
	first.conn.MarkConnected()
	first.conn.MarkConnected() // counted once
	if res := h.handshakeFrom("192.0.2.9"); res.status != http.StatusOK {
		t.Fatalf("after one connected: %d %s", res.status, res.body)
	}
	if n, _ := h.srv.Unconnected(); n != 2 {
		t.Fatalf("%d unconnected, want 2", n)
	}
}

func TestFirstMessageTimeout(t *testing.T) {
	h, refused := limited(t, Limits{FirstMessageTimeout: 200 * time.Millisecond})
	silentSID, silent := h.handshake()
	talkerSID, talker := h.handshake()
	if res := h.post(talkerSID, "4hello"); res.status != http.StatusOK {
		t.Fatalf("post: %d", res.status)
	}
	talker.message(t)
	silent.closedWith(t, ReasonForcedClose)
	expectError(t, h.get(silentSID), http.StatusBadRequest, errSessionUnknown)
	time.Sleep(300 * time.Millisecond)
	talker.stillOpen(t)
	if got := *refused; len(got) != 1 || got[0] != RefusedSilent+" 127.0.0.1" {
		t.Fatalf("refusals: %q", got)
	}
	if n, _ := h.srv.Unconnected(); n != 1 {
		t.Fatalf("%d unconnected, want 1 (the talker, not marked)", n)
	}
}

func TestOriginsCompareSchemeHostAndPort(t *testing.T) {
	for in, want := range map[string]string{
		"http://Example.com":      "http://example.com:80",
		"http://example.com:80/":  "http://example.com:80",
		"https://example.com":     "https://example.com:443",
		"https://example.com:444": "https://example.com:444",
		"ftp://example.com":       "",
		"null":                    "",
		"http://u@example.com":    "",
		"http://example.com/path": "",
	} {
		if got := normOrigin(in); got != want {
			t.Errorf("normOrigin(%q) = %q, want %q", in, got, want)
		}
	}
	origin := func(o string) http.Header { return http.Header{"Origin": {o}} }
	h := newHarness(t, Options{AllowedOrigins: []string{"https://app.example"}})
	for _, bad := range []string{"http://app.example", "ftp://app.example", "https://app.example:8443", "https://app.example.evil"} {
		expectError(t, h.do("GET", h.url("polling", ""), "", origin(bad)), http.StatusForbidden, errForbidden)
	}
	if res := h.do("GET", h.url("polling", ""), "", origin("https://APP.example:443")); res.status != http.StatusOK {
		t.Fatalf("the allowed origin: %d", res.status)
	}
	own := newHarness(t, Options{})
	u := strings.TrimPrefix(own.ts.URL, "http://")
	for _, bad := range []string{"ftp://" + u, "https://" + u} {
		expectError(t, own.do("GET", own.url("polling", ""), "", origin(bad)), http.StatusForbidden, errForbidden)
	}
	if res := own.do("GET", own.url("polling", ""), "", origin(own.ts.URL)); res.status != http.StatusOK {
		t.Fatalf("own origin: %d", res.status)
	}
	// Behind a trusted proxy that terminates TLS, the page is https.
	proxied := newHarness(t, Options{Limits: Limits{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}})
	pu := strings.TrimPrefix(proxied.ts.URL, "http://")
	hdr := http.Header{"Origin": {"https://" + pu}, "X-Forwarded-Proto": {"https"}}
	if res := proxied.do("GET", proxied.url("polling", ""), "", hdr); res.status != http.StatusOK {
		t.Fatalf("https page behind a trusted proxy: %d", res.status)
	}
	any := newHarness(t, Options{AllowedOrigins: []string{"*"}})
	res := any.do("GET", any.url("polling", ""), "", origin("https://anywhere.example"))
	if res.status != http.StatusOK || res.header.Get("Access-Control-Allow-Credentials") != "" {
		t.Fatalf("any origin: %d, credentials %q, want none", res.status, res.header.Get("Access-Control-Allow-Credentials"))
	}
}

// A frame header announcing a large payload costs what arrives, not what
// it announces.
func TestAnnouncedPayloadIsNotAllocated(t *testing.T) {
	h := newHarness(t, Options{})
	c, _, _ := h.mustDial()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	hdr := ws.Header{Fin: true, OpCode: ws.OpText, Masked: true, Length: 900_000}
	if err := ws.WriteHeader(c.conn, hdr); err != nil {
		t.Fatal(err)
	}
	c.conn.Write([]byte("4hello"))
	time.Sleep(200 * time.Millisecond)
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 300_000 {
		t.Fatalf("%d bytes allocated for a frame of which 6 bytes came", grew)
	}
}
