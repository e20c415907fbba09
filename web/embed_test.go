package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func testFS() fstest.MapFS {
	return fstest.MapFS{
		"index.html":            {Data: []byte("<!doctype html><title>chat</title>")},
		"assets/index-abc1.js":  {Data: []byte("console.log(1)")},
		"assets/index-abc1.css": {Data: []byte("body{}")},
		"favicon.svg":           {Data: []byte("<svg></svg>")},
		".gitkeep":              {Data: nil},
	}
}

func get(t *testing.T, h http.Handler, method, target string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestIndex(t *testing.T) {
	h := newHandler(testFS())
	for _, target := range []string{"/", "/index.html"} {
		rec := get(t, h, http.MethodGet, target, nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: status %d", target, rec.Code)
		}
		if got := rec.Header().Get("Cache-Control"); got != "no-cache" {
			t.Errorf("GET %s: Cache-Control %q, want no-cache", target, got)
		}
		csp := rec.Header().Get("Content-Security-Policy")
		for _, want := range []string{"script-src 'self'", "style-src 'self'", "connect-src 'self' ws: wss:"} {
			if !strings.Contains(csp, want) {
				t.Errorf("GET %s: CSP %q lacks %q", target, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("GET %s: CSP %q allows unsafe sources", target, csp)
		}
		if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("GET %s: X-Content-Type-Options %q", target, got)
		}
		if got := rec.Header().Get("Content-Type"); !strings.HasPrefix(got, "text/html") {
			t.Errorf("GET %s: Content-Type %q", target, got)
		}
		if !strings.Contains(rec.Body.String(), "<title>chat</title>") {
			t.Errorf("GET %s: body %q", target, rec.Body.String())
		}
	}
}

func TestRevalidation(t *testing.T) {
	h := newHandler(testFS())
	etag := get(t, h, http.MethodGet, "/", nil).Header().Get("ETag")
	if etag == "" {
		t.Fatal("no ETag on index.html")
	}
	rec := get(t, h, http.MethodGet, "/", map[string]string{"If-None-Match": etag})
	if rec.Code != http.StatusNotModified {
		t.Fatalf("conditional GET: status %d, want 304", rec.Code)
	}
}

func TestAssets(t *testing.T) {
	h := newHandler(testFS())
	tests := []struct {
		target, cache, ctype string
	}{
		{"/assets/index-abc1.js", "public, max-age=31536000, immutable", "text/javascript"},
		{"/assets/index-abc1.css", "public, max-age=31536000, immutable", "text/css"},
		{"/favicon.svg", "public, max-age=3600", "image/svg+xml"},
	}
	for _, tt := range tests {
		rec := get(t, h, http.MethodGet, tt.target, nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: status %d", tt.target, rec.Code)
		}
		if got := rec.Header().Get("Cache-Control"); got != tt.cache {
			t.Errorf("GET %s: Cache-Control %q, want %q", tt.target, got, tt.cache)
		}
		if got := rec.Header().Get("Content-Type"); !strings.HasPrefix(got, tt.ctype) {
			t.Errorf("GET %s: Content-Type %q, want %s", tt.target, got, tt.ctype)
		}
		if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("GET %s: X-Content-Type-Options %q", tt.target, got)
		}
	}
}

func TestNotFound(t *testing.T) {
	h := newHandler(testFS())
	for _, target := range []string{"/assets/", "/assets", "/nope.js", "/.gitkeep", "/../index.html.bak", "/assets/../../etc/passwd"} {
		if rec := get(t, h, http.MethodGet, target, nil); rec.Code != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", target, rec.Code)
		}
	}
}

func TestMethods(t *testing.T) {
	h := newHandler(testFS())
	rec := get(t, h, http.MethodPost, "/", nil)
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /: status %d, Allow %q", rec.Code, rec.Header().Get("Allow"))
	}
	rec = get(t, h, http.MethodHead, "/", nil)
	if rec.Code != http.StatusOK || rec.Body.Len() != 0 {
		t.Errorf("HEAD /: status %d, body %d bytes", rec.Code, rec.Body.Len())
	}
}

func TestNotBuilt(t *testing.T) {
	for name, h := range map[string]http.Handler{
		"placeholder only": newHandler(fstest.MapFS{".gitkeep": {}}),
		"nil":              newHandler(nil),
	} {
		rec := get(t, h, http.MethodGet, "/", nil)
		if rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("%s: GET /: status %d, want 503", name, rec.Code)
		}
		if !strings.Contains(rec.Body.String(), "web client not built: run make web") {
			t.Errorf("%s: body %q", name, rec.Body.String())
		}
	}
}

// TestEmbedded checks the real embedded tree: built, it serves the page
// and every asset the page names; not built, it gives the hint.
func TestEmbedded(t *testing.T) {
	h := Handler()
	rec := get(t, h, http.MethodGet, "/", nil)
	if rec.Code == http.StatusServiceUnavailable {
		t.Log("client not built: checked the 503 only")
		return
	}
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /: status %d", rec.Code)
	}
	body := rec.Body.String()
	for _, attr := range []string{`src="`, `href="`} {
		for rest := body; ; {
			i := strings.Index(rest, attr)
			if i < 0 {
				break
			}
			rest = rest[i+len(attr):]
			ref := rest[:strings.IndexByte(rest, '"')]
			if !strings.HasPrefix(ref, "/") {
				continue
			}
			if rec := get(t, h, http.MethodGet, ref, nil); rec.Code != http.StatusOK {
				t.Errorf("page references %s, which answers %d", ref, rec.Code)
			}
		}
	}
}

// TestPrecompressed: a browser that accepts brotli or gzip gets the copy the
// build compressed, with its own ETag and Vary: Accept-Encoding; one that
// accepts neither gets the file as it is; the copies are not served under
// their own names.
func TestPrecompressed(t *testing.T) {
	fsys := testFS()
	fsys["assets/index-abc1.js.gz"] = &fstest.MapFile{Data: []byte("gzipped js")}
	fsys["assets/index-abc1.js.br"] = &fstest.MapFile{Data: []byte("brotli js")}
	fsys["index.html.gz"] = &fstest.MapFile{Data: []byte("gzipped html")}
	h := newHandler(fsys)
	tests := []struct {
		target, accept, encoding, body string
	}{
		{"/assets/index-abc1.js", "gzip, deflate, br, zstd", "br", "brotli js"},
		{"/assets/index-abc1.js", "gzip, deflate", "gzip", "gzipped js"},
		{"/assets/index-abc1.js", "br;q=0, gzip;q=0.5", "gzip", "gzipped js"},
		{"/assets/index-abc1.js", "*", "br", "brotli js"},
		{"/assets/index-abc1.js", "identity", "", "console.log(1)"},
		{"/assets/index-abc1.js", "", "", "console.log(1)"},
		{"/", "gzip, br", "gzip", "gzipped html"},
	}
	etags := map[string]string{}
	for _, tc := range tests {
		rec := get(t, h, http.MethodGet, tc.target, map[string]string{"Accept-Encoding": tc.accept})
		if rec.Code != http.StatusOK || rec.Body.String() != tc.body {
			t.Errorf("GET %s (Accept-Encoding %q): %d %q, want %q", tc.target, tc.accept, rec.Code, rec.Body.String(), tc.body)
		}
		if got := rec.Header().Get("Content-Encoding"); got != tc.encoding {
			t.Errorf("GET %s (Accept-Encoding %q): Content-Encoding %q, want %q", tc.target, tc.accept, got, tc.encoding)
		}
		if got := rec.Header().Get("Vary"); got != "Accept-Encoding" {
			t.Errorf("GET %s: Vary %q", tc.target, got)
		}
		etag := rec.Header().Get("ETag")
		if prev, ok := etags[etag]; ok && prev != tc.target+tc.encoding {
			t.Errorf("GET %s (%s): ETag %s also names %s", tc.target, tc.encoding, etag, prev)
		}
		etags[etag] = tc.target + tc.encoding
	}
	if got := get(t, h, http.MethodGet, "/assets/index-abc1.css", map[string]string{"Accept-Encoding": "gzip"}).Header(); got.Get("Content-Encoding") != "" || got.Get("Vary") != "" {
		t.Errorf("a file without a compressed copy: Content-Encoding %q, Vary %q", got.Get("Content-Encoding"), got.Get("Vary"))
	}
	for _, target := range []string{"/assets/index-abc1.js.gz", "/assets/index-abc1.js.br", "/index.html.gz"} {
		if rec := get(t, h, http.MethodGet, target, nil); rec.Code != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", target, rec.Code)
		}
	}
}
