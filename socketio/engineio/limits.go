package engineio

import (
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Limits bound what clients can make the server hold before they have
// proven anything: sessions per client address, handshakes per address
// and second, sessions not yet set up by the layer above, and how long a
// session may stay silent after its handshake. Zero values turn a bound
// off.
type Limits struct {
	// PerAddress bounds the sessions open at once from one client address
	// (an IPv6 client counts by its /64).
	PerAddress int
	// HandshakeRate bounds the handshakes of one address a second, with
	// bursts of HandshakeBurst (default five seconds' worth).
	HandshakeRate  float64
	HandshakeBurst int
	// MaxUnconnected bounds the sessions, from every address together,
	// that the layer above has not marked connected (Conn.MarkConnected).
	MaxUnconnected int
	// FirstMessageTimeout closes a session whose first message (for
	// Socket.IO, its CONNECT) has not come this long after its handshake.
	FirstMessageTimeout time.Duration
	// TrustedProxies are the peers whose X-Forwarded-For header names the
	// client; any other peer is the client itself.
	TrustedProxies []netip.Prefix
}

// The refusals of the bounds in Limits.
const (
	// RefusedPerAddress: a handshake from an address that has
	// Limits.PerAddress sessions open. Answered 429.
	RefusedPerAddress = "connections per address"
	// RefusedRate: a handshake over Limits.HandshakeRate. Answered 429.
	RefusedRate = "handshake rate"
	// RefusedUnconnected: a handshake while Limits.MaxUnconnected
	// sessions are not connected yet. Answered 503.
	RefusedUnconnected = "unconnected sessions"
	// RefusedSilent: a session closed for sending nothing within
	// Limits.FirstMessageTimeout.
	RefusedSilent = "no first message"
)

// ClientAddr returns the client address of r: the peer, or, when the
// peer is a trusted proxy, the nearest address in X-Forwarded-For that
// is not one (what a client puts in the header itself is ignored, since
// a proxy appends the peer it saw). An address that does not parse is
// returned as it is.
func ClientAddr(r *http.Request, trusted []netip.Prefix) string {
	peer := peerAddr(r.RemoteAddr)
	if !peer.IsValid() {
		return r.RemoteAddr
	}
	if !isTrusted(peer, trusted) {
		return peer.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a proxy would not write this: stop at the last good hop
		}
		peer = a.Unmap()
		if !isTrusted(peer, trusted) {
			break
		}
	}
	return peer.String()
}

func peerAddr(remote string) netip.Addr {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr().Unmap()
	}
	a, _ := netip.ParseAddr(remote)
	return a.Unmap()
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// limitKey is what the per-address bounds count by: the address, or the
// /64 of an IPv6 one (a single host is usually given a whole /64).
func limitKey(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil || a.Is4() {
		return addr
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// addrTable counts sessions and handshakes per client address. An entry
// lives while its address has sessions or its handshake bucket is not
// full again; sweep forgets the others.
type addrTable struct {
	limits Limits
	burst  float64
	now    func() time.Time

	mu          sync.Mutex
	addrs       map[string]*addrState
	unconnected int
	lastSweep   time.Time
}

type addrState struct {
	sessions int
	tokens   float64 // handshakes still allowed now
	at       time.Time
}

// sweepEvery is how often idle entries are looked for.
const sweepEvery = 10 * time.Second

func newAddrTable(l Limits, now func() time.Time) *addrTable {
	burst := float64(l.HandshakeBurst)
	if burst <= 0 {
		burst = max(1, 5*l.HandshakeRate)
	}
	return &addrTable{limits: l, burst: burst, now: now, addrs: make(map[string]*addrState)}
}

// admit counts a new session from key, or says which bound refuses it.
func (t *addrTable) admit(key string) (string, bool) {
	l := t.limits
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sweepLocked(now)
	if l.MaxUnconnected > 0 && t.unconnected >= l.MaxUnconnected {
		return RefusedUnconnected, false
	}
	st := t.addrs[key]
	if st == nil {
		st = &addrState{tokens: t.burst, at: now}
	}
	if l.HandshakeRate > 0 {
		st.tokens = min(t.burst, st.tokens+now.Sub(st.at).Seconds()*l.HandshakeRate)
		st.at = now
		if st.tokens < 1 {
			t.addrs[key] = st
			return RefusedRate, false
		}
	}
	if l.PerAddress > 0 && st.sessions >= l.PerAddress {
		t.addrs[key] = st
		return RefusedPerAddress, false
	}
	if l.HandshakeRate > 0 {
		st.tokens--
	}
	st.sessions++
	t.unconnected++
	t.addrs[key] = st
	return "", true
}

// connected moves a session out of the unconnected count.
func (t *addrTable) connected() {
	t.mu.Lock()
	t.unconnected--
	t.mu.Unlock()
}

// release forgets a closed session; wasUnconnected when it never got
// marked connected.
func (t *addrTable) release(key string, wasUnconnected bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if wasUnconnected {
		t.unconnected--
	}
	if st := t.addrs[key]; st != nil {
		st.sessions--
	}
}

// sweepLocked forgets, now and then, the addresses with no session whose
// bucket has filled up again.
func (t *addrTable) sweepLocked(now time.Time) {
	if now.Sub(t.lastSweep) < sweepEvery {
		return
	}
	t.lastSweep = now
	for k, st := range t.addrs {
		full := t.limits.HandshakeRate <= 0 || st.tokens+now.Sub(st.at).Seconds()*t.limits.HandshakeRate >= t.burst
		if st.sessions <= 0 && full {
			delete(t.addrs, k)
		}
	}
}

// counts returns the unconnected sessions and the addresses tracked.
func (t *addrTable) counts() (unconnected, addrs int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.unconnected, len(t.addrs)
}
