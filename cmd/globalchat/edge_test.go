package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/globalchat/globalchat/internal/testenv"
)

// TestPerAddressCap: one address gets MAX_CONNECTIONS_PER_ADDRESS (100)
// sessions and a clear refusal for the next; another still gets in.
// HANDSHAKES_PER_SECOND is raised here so that the hundred arrive at
// once; TestHandshakeRate checks the shipped rate.
func TestPerAddressCap(t *testing.T) {
	in := startBinary(t, "HANDSHAKES_PER_SECOND=1000")
	c := from("127.0.42.1")
	for i := range 100 {
		if status, body := get(t, c, handshakeURL(in.url), nil); status != http.StatusOK {
			t.Fatalf("handshake %d: %d %s", i, status, body)
		}
	}
	status, body := get(t, c, handshakeURL(in.url), nil)
	if status != http.StatusTooManyRequests || !strings.Contains(body, "Too many connections from this address") {
		t.Fatalf("101st: %d %s", status, body)
	}
	if status, body := get(t, from("127.0.43.1"), handshakeURL(in.url), nil); status != http.StatusOK {
		t.Fatalf("another address: %d %s", status, body)
	}
	if status, _ := get(t, c, in.url+"/healthz", nil); status != http.StatusOK {
		t.Fatalf("healthz from the capped address: %d", status)
	}
	// A client's own X-Forwarded-For is not believed (no TRUSTED_PROXIES).
	status, _ = get(t, c, handshakeURL(in.url), http.Header{"X-Forwarded-For": {"198.51.100.1"}})
	if status != http.StatusTooManyRequests {
		t.Fatalf("a forged X-Forwarded-For got around the cap: %d", status)
	}
	metrics := scrape(t, in)
	if !strings.Contains(metrics, `socketio_refusals_total{reason="connections per address"} 2`) {
		t.Fatalf("refusals not counted:\n%s", grep(metrics, "refusals"))
	}
}

// TestHandshakeRate: at the shipped HANDSHAKES_PER_SECOND (10, bursts of
// 50), a flood from one address is refused after the burst.
func TestHandshakeRate(t *testing.T) {
	in := startBinary(t)
	c := from("127.0.44.1")
	refused := 0
	for range 60 {
		status, body := get(t, c, handshakeURL(in.url), nil)
		if status == http.StatusTooManyRequests && strings.Contains(body, "Too many handshakes") {
			refused++
		}
	}
	if refused < 5 || refused > 10 {
		t.Fatalf("%d of 60 quick handshakes refused, want about 10", refused)
	}
}

// TestSilentSessionsDoNotStay: a session that sends nothing after its
// handshake is closed after FIRST_MESSAGE_TIMEOUT (set to 1s here, the
// shipped 5s would only make the test slower).
func TestSilentSessionsDoNotStay(t *testing.T) {
	in := startBinary(t, "FIRST_MESSAGE_TIMEOUT=1s")
	c := from("127.0.45.1")
	_, body := get(t, c, handshakeURL(in.url), nil)
	sid := between(body, `"sid":"`, `"`)
	time.Sleep(1500 * time.Millisecond)
	if status, body := get(t, c, handshakeURL(in.url)+"&sid="+sid, nil); status != http.StatusBadRequest || !strings.Contains(body, "Session ID unknown") {
		t.Fatalf("silent session still there: %d %s", status, body)
	}
}

// TestAttachmentsHeld: a packet announcing more attachments than socket.io
// allows is refused at once; one that holds back its attachments cannot
// hold more than MAX_ATTACHMENT_BYTES.
func TestAttachmentsHeld(t *testing.T) {
	in := startBinary(t)
	c := dialWS(t, in, "127.0.46.1")
	c.join("hoarder")
	c.send(`464-["chat:message",{"_placeholder":true,"num":0}]`)
	if !c.ClosedWithin(2 * time.Second) {
		t.Fatal("64 announced attachments accepted")
	}
	c = dialWS(t, in, "127.0.46.2")
	c.join("hoarder2")
	c.send(`4510-["chat:message",{"_placeholder":true,"num":0}]`)
	mb := make([]byte, 600_000)
	closed := false
	for i := 0; i < 9 && !closed; i++ {
		closed = c.SendBinary(mb) != nil
	}
	if !closed && !c.ClosedWithin(2*time.Second) {
		t.Fatal("9 held attachments of 600 KB accepted")
	}
	if rss := vmRSS(t, in.pid); rss > 150<<20 {
		t.Fatalf("RSS %d MB", rss>>20)
	}
}

// TestHeaderLimit: request line and headers are bounded at 16 KB, like
// Node's; a long query string is refused before any session keeps it.
func TestHeaderLimit(t *testing.T) {
	in := startBinary(t)
	c := from("127.0.47.1")
	if status, _ := get(t, c, handshakeURL(in.url)+"&pad="+strings.Repeat("x", 10_000), nil); status != http.StatusOK {
		t.Fatalf("10 KB query: %d", status)
	}
	for _, pad := range []int{17_000, 100_000} {
		conn, err := net.Dial("tcp", in.addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "GET /socket.io/?EIO=4&transport=polling&pad=%s HTTP/1.1\r\nHost: x\r\n\r\n", strings.Repeat("x", pad))
		line, err := bufio.NewReader(conn).ReadString('\n')
		conn.Close()
		if !strings.Contains(line, " 431 ") {
			t.Fatalf("%d-byte query: %q %v, want 431", pad, line, err)
		}
	}
}

// TestLogFloodIsSampled: a client hammering the rate limit costs a few
// log lines, not one per refusal.
func TestLogFloodIsSampled(t *testing.T) {
	in := startBinary(t)
	c := dialWS(t, in, "127.0.48.1")
	c.join("flooder")
	const n = 2000
	for i := range n {
		c.send(fmt.Sprintf(`42%d["chat:message",{"content":"flood %d"}]`, i, i))
	}
	acks := 0
	for acks < n {
		if strings.HasPrefix(c.read(), "43") {
			acks++
		}
	}
	logs := in.logs()
	if lines := strings.Count(logs, "rate limit"); lines > 3 {
		t.Fatalf("%d log lines about the rate limit for %d refusals", lines, n-20)
	}
	if !strings.Contains(logs, "rate limit") {
		t.Fatal("the first refusal was not logged")
	}
}

func scrape(t *testing.T, in *instance) string {
	t.Helper()
	_, body := get(t, from("127.0.0.1"), in.url+"/metrics", nil)
	return body
}

// grep returns the lines of s that contain sub.
func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// between returns what s holds between the first start and the next end.
func between(s, start, end string) string {
	_, after, _ := strings.Cut(s, start)
	v, _, _ := strings.Cut(after, end)
	return v
}

// TestJoinsPerAddress: guests made up one after the other from one
// address are refused past JOINS_PER_ADDRESS_PER_MINUTE (60), with a
// clear message; another address still joins.
func TestJoinsPerAddress(t *testing.T) {
	in := startBinary(t)
	for i := range 60 {
		if i >= 40 {
			time.Sleep(120 * time.Millisecond) // within HANDSHAKES_PER_SECOND
		}
		dialWS(t, in, "127.0.49.1").join(fmt.Sprint("guest", i))
	}
	time.Sleep(120 * time.Millisecond)
	c := dialWS(t, in, "127.0.49.1")
	c.send(`40{"username":"one too many"}`)
	if reply := c.read(); !strings.HasPrefix(reply, `44{"message":"at most 60 connections a minute from one address`) {
		t.Fatalf("61st join: %q", reply)
	}
	dialWS(t, in, "127.0.50.1").join("neighbour")
}

// TestMetricsElsewhere: with METRICS_ADDR, /metrics is served there and
// not on the public port.
func TestMetricsElsewhere(t *testing.T) {
	addr := testenv.Addr(testenv.FreePort(t))
	in := startBinary(t, "METRICS_ADDR="+addr)
	c := from("127.0.0.1")
	if status, _ := get(t, c, in.url+"/metrics", nil); status == http.StatusOK {
		t.Fatal("/metrics still served on the public port")
	}
	testenv.WaitTCP(t, addr, 5*time.Second)
	if status, body := get(t, c, "http://"+addr+"/metrics", nil); status != http.StatusOK || !strings.Contains(body, "socketio_connections") {
		t.Fatalf("metrics listener: %d", status)
	}
}

// TestMetricsBehindAdminToken: with ADMIN_TOKEN, /metrics on the public
// port asks for it.
func TestMetricsBehindAdminToken(t *testing.T) {
	const token = "an-admin-token-for-the-test"
	in := startBinary(t, "ADMIN_TOKEN="+token)
	c := from("127.0.0.1")
	if status, _ := get(t, c, in.url+"/metrics", nil); status != http.StatusUnauthorized {
		t.Fatalf("/metrics without the token: %d, want 401", status)
	}
	status, body := get(t, c, in.url+"/metrics", http.Header{"Authorization": {"Bearer " + token}})
	if status != http.StatusOK || !strings.Contains(body, "socketio_connections") {
		t.Fatalf("/metrics with the token: %d", status)
	}
}
