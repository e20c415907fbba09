// Package web serves the browser client: the TypeScript page in src/, built
// by vite into dist/ (`make web`) and embedded into the server binary.
//
// It imports only the standard library; the server mounts Handler at "/".
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
)

// dist is the vite build output. all: keeps dist/.gitkeep, so the pattern
// matches (and the package compiles) before the client has been built.
//
//go:embed all:dist
var dist embed.FS

// contentSecurityPolicy allows the page to load only its own scripts,
// styles and images, and to talk only to its own origin (HTTP and
// WebSocket). Nothing inline is allowed: the build inlines nothing.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self'; font-src 'self'; connect-src 'self' ws: wss:; object-src 'none'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// notBuilt is what "/" answers when the binary was built without the client.
const notBuilt = "web client not built: run make web\n"

// Handler serves the embedded client: index.html at "/", the operator's
// dashboard admin.html at "/admin" (both revalidated on
// every load, so a new release is picked up at once), the hashed files
// under /assets/ cached for a year, other files for an hour. When the
// client was not built, "/" answers 503 with a hint.
func Handler() http.Handler {
	sub, err := fs.Sub(dist, "dist")
	if err != nil { // only for an invalid path, which "dist" is not
		return newHandler(nil)
	}
	return newHandler(sub)
}

// file is one embedded file with its validator and, for text files, the
// versions the build compressed ahead of time (name.br, name.gz).
type file struct {
	body []byte
	etag string
	// encoded holds the precompressed bodies by Content-Encoding, in the
	// order of preference: brotli is a fifth smaller than gzip.
	encoded []encoding
}

// encoding is one precompressed version of a file.
type encoding struct {
	name string // "br" or "gzip"
	body []byte
	etag string
}

// precompressed maps the suffix the build gives a compressed copy to its
// Content-Encoding, best first.
var precompressed = []struct{ suffix, name string }{{".br", "br"}, {".gz", "gzip"}}

type handler struct {
	files map[string]file // by URL path, e.g. "/assets/index-abc.js"
}

// newHandler reads every file of fsys once: the embedded files are small
// and fixed, and hashing them up front gives each a strong ETag. The
// compressed copies the build wrote beside a file (name.br, name.gz) are
// served in its place to browsers that accept them, never under their own
// names. A nil fsys serves nothing (and 503 at "/").
func newHandler(fsys fs.FS) *handler {
	h := &handler{files: map[string]file{}}
	if fsys == nil {
		return h
	}
	bodies := map[string][]byte{}
	_ = fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return nil // unreadable entries and dotfiles (.gitkeep) are not served
		}
		if body, err := fs.ReadFile(fsys, name); err == nil {
			bodies["/"+name] = body
		}
		return nil
	})
	for name, body := range bodies {
		if compressedCopy(name, bodies) {
			continue
		}
		f := file{body: body, etag: etagOf(body, "")}
		for _, p := range precompressed {
			if enc, ok := bodies[name+p.suffix]; ok {
				f.encoded = append(f.encoded, encoding{name: p.name, body: enc, etag: etagOf(body, "-"+p.name)})
			}
		}
		h.files[name] = f
	}
	return h
}

// compressedCopy reports whether name is the compressed copy of another file.
func compressedCopy(name string, bodies map[string][]byte) bool {
	for _, p := range precompressed {
		if base, ok := strings.CutSuffix(name, p.suffix); ok {
			if _, ok := bodies[base]; ok {
				return true
			}
		}
	}
	return false
}

// etagOf is a strong validator of body; each encoding of the same file
// gets its own (suffix), as the bytes sent differ.
func etagOf(body []byte, suffix string) string {
	sum := sha256.Sum256(body)
	return `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + suffix + `"`
}

// accepts reports whether the Accept-Encoding header allows coding: named
// (or covered by "*") with a q above 0.
func accepts(header, coding string) bool {
	star := false
	for _, part := range strings.Split(header, ",") {
		token, params, _ := strings.Cut(part, ";")
		ok := true
		for _, p := range strings.Split(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(k, "q") {
				q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				ok = err == nil && q > 0
			}
		}
		switch strings.ToLower(strings.TrimSpace(token)) {
		case coding:
			return ok
		case "*":
			star = ok
		}
	}
	return star
}

// ServeHTTP serves GET and HEAD of the embedded files.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("X-Content-Type-Options", "nosniff")
	// Also on the other files: an SVG opened on its own is a document too.
	hdr.Set("Content-Security-Policy", contentSecurityPolicy)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := path.Clean("/" + r.URL.Path)
	switch name {
	case "/", "/index.html":
		h.servePage(w, r, "/index.html")
		return
	case "/admin", "/admin.html":
		h.servePage(w, r, "/admin.html")
		return
	}
	f, ok := h.files[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	if strings.HasPrefix(name, "/assets/") {
		// vite puts a content hash in every name under assets/.
		hdr.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		hdr.Set("Cache-Control", "public, max-age=3600")
	}
	serve(w, r, name, f)
}

// servePage serves a page (the chat, the dashboard), revalidated on
// every load.
func (h *handler) servePage(w http.ResponseWriter, r *http.Request, name string) {
	hdr := w.Header()
	hdr.Set("Cache-Control", "no-cache")
	f, ok := h.files[name]
	if !ok {
		hdr.Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(notBuilt))
		return
	}
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("X-Frame-Options", "DENY")
	serve(w, r, name, f)
}

// serve writes f, compressed when the build compressed it and the browser
// accepts it, answering conditional and range requests.
func serve(w http.ResponseWriter, r *http.Request, name string, f file) {
	hdr := w.Header()
	body, etag := f.body, f.etag
	if len(f.encoded) > 0 {
		// Caches must keep the versions apart.
		hdr.Add("Vary", "Accept-Encoding")
		for _, e := range f.encoded {
			if accepts(r.Header.Get("Accept-Encoding"), e.name) {
				hdr.Set("Content-Encoding", e.name)
				body, etag = e.body, e.etag
				break
			}
		}
	}
	hdr.Set("ETag", etag)
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(body))
}
