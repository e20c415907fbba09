package main

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/globalchat/globalchat"
	"github.com/globalchat/globalchat/inmem"
	"github.com/globalchat/globalchat/socketio/engineio"
)

// edgeConfig is the configuration of the bounds that keep one client
// from exhausting the server (docs/security.md lists them).
type edgeConfig struct {
	TrustedProxies     string
	PerAddress         int
	HandshakeRate      int
	MaxUnconnected     int
	FirstMessage       time.Duration
	MaxHeaderBytes     int
	MaxAttachments     int
	MaxAttachmentBytes int
	MessagesPerAddress int
	JoinsPerAddress    int
}

func (e *edgeConfig) validate() []error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	_, err := e.proxies()
	check(err == nil, "TRUSTED_PROXIES: %v", err)
	check(e.PerAddress >= 0, "MAX_CONNECTIONS_PER_ADDRESS must not be negative")
	check(e.HandshakeRate >= 0, "HANDSHAKES_PER_SECOND must not be negative")
	check(e.MaxUnconnected >= 0, "MAX_UNCONNECTED must not be negative")
	check(e.FirstMessage >= 100*time.Millisecond, "FIRST_MESSAGE_TIMEOUT must be at least 100ms")
	check(e.MaxHeaderBytes >= 8192 && e.MaxHeaderBytes <= 1<<20, "MAX_HEADER_BYTES must be 8192-1048576")
	check(e.MaxAttachments >= 1 && e.MaxAttachments <= 1000, "MAX_ATTACHMENTS must be 1-1000")
	check(e.MaxAttachmentBytes >= 1, "MAX_ATTACHMENT_BYTES must be positive")
	check(e.MessagesPerAddress >= 0, "RATE_LIMIT_PER_ADDRESS_PER_MINUTE must not be negative")
	check(e.JoinsPerAddress >= 0, "JOINS_PER_ADDRESS_PER_MINUTE must not be negative")
	return errs
}

// proxies parses TRUSTED_PROXIES: IPs or CIDRs.
func (e *edgeConfig) proxies() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(e.TrustedProxies, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an IP nor a CIDR", f)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// limits are the Engine.IO bounds.
func (e *edgeConfig) limits() engineio.Limits {
	proxies, _ := e.proxies() // validated
	return engineio.Limits{
		PerAddress: e.PerAddress, HandshakeRate: float64(e.HandshakeRate),
		MaxUnconnected: e.MaxUnconnected, FirstMessageTimeout: e.FirstMessage,
		TrustedProxies: proxies,
	}
}

// addressLimiter is a per-address limiter of perMinute in any minute, or
// nil for none. It is in memory, per instance: behind nginx with ip_hash
// an address reaches one instance.
func addressLimiter(perMinute int) globalchat.RateLimiter {
	if perMinute <= 0 {
		return nil
	}
	return inmem.NewRateLimiter(perMinute, nil)
}
