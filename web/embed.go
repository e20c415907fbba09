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

// file is one embedded file with its validator.
type file struct {
	body []byte
	etag string
}

type handler struct {
	files map[string]file // by URL path, e.g. "/assets/index-abc.js"
}

// newHandler reads every file of fsys once: the embedded files are small
// and fixed, and hashing them up front gives each a strong ETag. A nil
// fsys serves nothing (and 503 at "/").
func newHandler(fsys fs.FS) *handler {
	h := &handler{files: map[string]file{}}
	if fsys == nil {
		return h
	}
	_ = fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return nil // unreadable entries and dotfiles (.gitkeep) are not served
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil
		}
		sum := sha256.Sum256(body)
		etag := `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`
		h.files["/"+name] = file{body: body, etag: etag}
		return nil
	})
	return h
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

// serve writes f, answering conditional and range requests.
func serve(w http.ResponseWriter, r *http.Request, name string, f file) {
	w.Header().Set("ETag", f.etag)
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(f.body))
}
