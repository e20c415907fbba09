package engineio

import (
	"net"
	"net/http"
	"strings"
)

// Refusal is a client turned away, or cut off, for speaking what the
// server does not: an old protocol version, an oversize message, a broken
// control frame. The server answers each as the protocol says (see the
// README's supported clients) and reports it through Options.Refused, so
// that the application can count and log it.
type Refusal struct {
	// Reason is one of the Refused* constants: a small fixed set, fit
	// for a metric label.
	Reason string
	// Addr is the client's address (host, no port): the key to sample
	// logs by.
	Addr string
	// Detail is what the client sent, shortened, for the log.
	Detail string
}

// The reasons of a Refusal.
const (
	// RefusedVersion: a handshake with an EIO other than 4 (socket.io-client
	// 2.x sends 3). Answered HTTP 400 with the spec's code 5.
	RefusedVersion = "unsupported protocol version"
	// RefusedTooBig: a WebSocket message over MaxPayload. Closed with 1009.
	RefusedTooBig = "message too big"
	// RefusedControlFrame: a WebSocket control frame over 125 bytes or
	// fragmented (RFC 6455 5.5). Closed with 1002.
	RefusedControlFrame = "invalid control frame"
)

// maxDetail bounds what a Refusal quotes of the client's input.
const maxDetail = 64

// refuse reports a refusal to the application, if it asked.
func (s *Server) refuse(reason, addr, detail string) {
	if s.opts.Refused == nil {
		return
	}
	s.opts.Refused(Refusal{Reason: reason, Addr: hostOf(addr), Detail: shorten(detail)})
}

// refuseVersion answers a handshake of another protocol version. The
// refusal is keyed by the client's address, the one a trusted proxy
// names: behind nginx the peer is nginx, and every client's refusals
// would be sampled as one.
func (s *Server) refuseVersion(w http.ResponseWriter, r *http.Request, eio string) {
	writeError(w, http.StatusBadRequest, errUnsupportedVersion)
	s.refuse(RefusedVersion, ClientAddr(r, s.opts.Limits.TrustedProxies), "EIO="+eio)
}

// hostOf is the host of an address, or the address when it has no port.
func hostOf(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// shorten cuts s to maxDetail bytes and replaces what is not valid UTF-8,
// so that a client cannot write much, or garbage, into the log.
func shorten(s string) string {
	if len(s) > maxDetail {
		s = s[:maxDetail]
	}
	return strings.ToValidUTF8(s, "?")
}

// RemoteHost is the client's address without its port, the key its
// refusals are reported by: the one a trusted proxy named, if any
// (Limits.TrustedProxies).
func (c *Conn) RemoteHost() string {
	if c.addr != "" {
		return c.addr
	}
	return hostOf(c.remoteAddr)
}
