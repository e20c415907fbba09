package httpapi

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/globalchat/globalchat"
)

// Paging bounds of GET /api/messages.
const (
	defaultLimit = 50
	maxLimit     = 100
	// maxOnline caps the users listed by GET /api/online-users.
	maxOnline = 500
	// checkTimeout bounds each readiness check.
	checkTimeout = 2 * time.Second
)

type handlers struct{ d Deps }

type messagesResponse struct {
	Messages []globalchat.Message `json:"messages"`
	HasMore  bool                 `json:"hasMore"`
}

// messages serves GET /api/messages?before=<seq>&limit=<1..100>.
func (h *handlers) messages(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	before, err := intParam(q.Get("before"), 0, 1, 1<<62)
	if err != nil {
		writeError(w, globalchat.Errorf(globalchat.CodeBadRequest, "before must be a positive integer (a seq)"))
		return
	}
	limit, err := intParam(q.Get("limit"), defaultLimit, 1, maxLimit)
	if err != nil {
		writeError(w, globalchat.Errorf(globalchat.CodeBadRequest, "limit must be an integer from 1 to %d", maxLimit))
		return
	}
	msgs, more, err := h.d.Chat.History(r.Context(), before, int(limit))
	if err != nil {
		writeError(w, err)
		return
	}
	if msgs == nil {
		msgs = []globalchat.Message{}
	}
	writeJSON(w, http.StatusOK, messagesResponse{Messages: msgs, HasMore: more})
}

// intParam parses an optional integer query parameter within [lo, hi].
func intParam(s string, def, lo, hi int64) (int64, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, errors.New("out of range")
	}
	return n, nil
}

type onlineResponse struct {
	Count int               `json:"count"`
	Users []globalchat.User `json:"users"`
}

func (h *handlers) onlineUsers(w http.ResponseWriter, r *http.Request) {
	n, users, err := h.d.Chat.Online(r.Context(), maxOnline)
	if err != nil {
		writeError(w, err)
		return
	}
	if users == nil {
		users = []globalchat.User{}
	}
	writeJSON(w, http.StatusOK, onlineResponse{Count: n, Users: users})
}

func (h *handlers) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

type readyResponse struct {
	Status string            `json:"status"`
	Mode   string            `json:"mode"`
	Checks map[string]string `json:"checks"`
	// Failing names the checks that did not answer, as a JSON list.
	Failing []string `json:"failing,omitempty"`
}

// readyz asks every configured dependency at once. It answers 200 while
// the instance can accept messages, even degraded (Redis or the store
// away, named in the status), so that a balancer does not drop every
// instance during an outage of one dependency; 503 when it cannot (no
// dependency answers, or the mode says both are away), and while the
// instance drains its connections before it stops.
func (h *handlers) readyz(w http.ResponseWriter, r *http.Request) {
	if h.d.Draining != nil && h.d.Draining() {
		// Nothing to ask: the instance takes no new clients, whatever
		// its dependencies say.
		writeJSON(w, http.StatusServiceUnavailable, readyResponse{Status: "draining", Mode: h.mode().String(), Checks: map[string]string{}})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), checkTimeout)
	defer cancel()
	res := readyResponse{Status: "ok", Checks: checkAll(ctx, h.d.Checks)}
	names := make([]string, 0, len(res.Checks))
	for n, s := range res.Checks {
		if s != "ok" {
			names = append(names, n)
		}
	}
	mode := h.mode()
	res.Mode = mode.String()
	sort.Strings(names)
	if len(names) > 0 {
		res.Failing = names
	}
	switch {
	case len(names) == len(res.Checks) && len(names) > 0, !mode.CanAccept():
		res.Status = "unavailable: " + joinNames(names)
		writeJSON(w, http.StatusServiceUnavailable, res)
	case len(names) > 0:
		res.Status = "degraded: " + joinNames(names)
		writeJSON(w, http.StatusOK, res)
	case mode != globalchat.ModeNormal:
		res.Status = "degraded: " + mode.String()
		writeJSON(w, http.StatusOK, res)
	default:
		writeJSON(w, http.StatusOK, res)
	}
}

// mode is the instance's mode (normal when nobody tracks it).
func (h *handlers) mode() globalchat.Mode {
	if h.d.Mode == nil {
		return globalchat.ModeNormal
	}
	return h.d.Mode()
}

// joinNames lists names for the status line ("redis, mysql"); the
// failing field has them as a JSON list.
// checkAll asks every check at once: "ok" or the error, by name.
func checkAll(ctx context.Context, checks map[string]globalchat.Checker) map[string]string {
	out := make(map[string]string, len(checks))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, c := range checks {
		wg.Go(func() {
			status := "ok"
			if err := c.Ping(ctx); err != nil {
				status = err.Error()
			}
			mu.Lock()
			out[name] = status
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

func joinNames(names []string) string { return strings.Join(names, ", ") }

func (h *handlers) notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, globalchat.Errorf(globalchat.CodeNotFound, "no such endpoint: %s %s", r.Method, r.URL.Path))
}

// authorized lets a request through to next when Deps.Authorize accepts
// it; otherwise it answers 401 with a Bearer challenge.
func (h *handlers) authorized(next http.HandlerFunc) http.Handler {
	if h.d.Authorize == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h.d.Authorize(r); err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="globalchat"`)
			writeError(w, globalchat.Errorf(globalchat.CodeUnauthorized, "%s", err.Error()))
			return
		}
		next(w, r)
	})
}

// bearer lets through to next the requests that carry token as
// Authorization: Bearer (compared in constant time); an empty token lets
// everyone through.
func bearer(token string, next http.Handler) http.Handler {
	if token == "" {
		return next
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="globalchat"`)
			writeError(w, globalchat.Errorf(globalchat.CodeUnauthorized, "send Authorization: Bearer <ADMIN_TOKEN>"))
			return
		}
		next.ServeHTTP(w, r)
	})
}
