package engineio

import (
	"net/http"
	"net/url"
	"strings"
)

// normOrigin returns an origin as scheme://host:port, lower case, with the
// scheme's default port written out, or "" when it is not an http(s)
// origin: "http://Example.com" and "http://example.com:80" are the same
// origin, "ftp://example.com" and "https://example.com" are not
// "http://example.com".
func normOrigin(o string) string {
	u, err := url.Parse(strings.TrimSpace(o))
	if err != nil || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return ""
	}
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	switch {
	case scheme != "http" && scheme != "https":
		return ""
	case port == "" && scheme == "http":
		port = "80"
	case port == "":
		port = "443"
	}
	return scheme + "://" + strings.ToLower(u.Hostname()) + ":" + port
}

// requestOrigin is the origin the request was made to: its scheme (https
// under TLS, or as a trusted proxy says in X-Forwarded-Proto) and Host.
func (s *Server) requestOrigin(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	} else if p := strings.ToLower(r.Header.Get("X-Forwarded-Proto")); (p == "http" || p == "https") &&
		isTrusted(peerAddr(r.RemoteAddr), s.opts.Limits.TrustedProxies) {
		scheme = p
	}
	return normOrigin(scheme + "://" + r.Host)
}

// originAllowed applies the allowlist, comparing scheme, host and port;
// with none, only the page's own origin may connect.
func (s *Server) originAllowed(origin string, r *http.Request) bool {
	o := normOrigin(origin)
	if o == "" {
		return false
	}
	for _, a := range s.opts.AllowedOrigins {
		if a == "*" || normOrigin(a) == o {
			return true
		}
	}
	if len(s.opts.AllowedOrigins) > 0 {
		return false
	}
	return o == s.requestOrigin(r)
}

// anyOrigin reports whether every origin is allowed ("*"): then no
// credentials are allowed with them.
func (s *Server) anyOrigin() bool {
	for _, a := range s.opts.AllowedOrigins {
		if a == "*" {
			return true
		}
	}
	return false
}
