package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/globalchat/globalchat"
	"github.com/globalchat/globalchat/bandwidth"
)

// Admin is what the operator's dashboard (/admin) reads.
type Admin struct {
	// Token guards the dashboard's API (ADMIN_TOKEN): clients send
	// "Authorization: Bearer <token>". Empty turns the dashboard off.
	Token string
	// Stats are the traffic figures: the cluster's in Redis mode. Nil
	// when accounting is off.
	Stats bandwidth.Store
	// Instance is this instance's name.
	Instance string
	// Page is the dashboard's page (web.Admin).
	Page http.Handler
}

// Bounds of the dashboard's API.
const (
	// maxHistory is the longest history asked at once.
	maxHistory = 24 * time.Hour
	// maxEvents bounds the events timeline kept.
	maxEvents = 200
)

// RequireToken lets through requests that carry "Authorization: Bearer
// <token>" and answers the others 401 (403 when no token is configured:
// nothing is served then). The comparison takes the same time whatever
// the token sent.
func RequireToken(token string, next http.Handler) http.Handler {
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token == "" {
			writeError(w, globalchat.Errorf(globalchat.CodeNotFound, "the dashboard is off: set ADMIN_TOKEN to turn it on"))
			return
		}
		sent, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		got := sha256.Sum256([]byte(sent))
		if !ok || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="globalchat admin"`)
			writeJSON(w, http.StatusUnauthorized, map[string]map[string]string{
				"error": {"code": "unauthorized", "message": "a valid admin token is required"}})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// admin serves the dashboard's API.
type admin struct {
	d      Deps
	events events
}

// status answers whether the dashboard is on, without a token: the page
// says how to turn it on when it is not.
func (a *admin) status(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]bool{"enabled": a.d.Admin.Token != ""})
}

type liveResponse struct {
	At       int64             `json:"at"` // ms
	Instance string            `json:"instance"`
	Mode     string            `json:"mode"` // this instance's (normal, redis away, …)
	Checks   map[string]string `json:"checks"`
	Realtime map[string]string `json:"realtime"`
}

// live answers the state of the dependencies and the realtime figures.
func (a *admin) live(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), checkTimeout)
	defer cancel()
	res := liveResponse{At: time.Now().UnixMilli(), Instance: a.d.Admin.Instance, Checks: checkAll(ctx, a.d.Checks), Realtime: map[string]string{}}
	mode := globalchat.ModeNormal
	if a.d.Mode != nil {
		mode = a.d.Mode()
	}
	res.Mode = mode.String()
	// A mode other than normal is an event of its own, as "mode".
	states := maps.Clone(res.Checks)
	states["mode"] = "ok"
	if mode != globalchat.ModeNormal {
		states["mode"] = res.Mode
	}
	a.events.observe(states, time.Now())
	if a.d.Admin.Stats != nil {
		rt, err := a.d.Admin.Stats.Realtime(ctx)
		if err != nil {
			res.Checks["bandwidth"] = err.Error()
		} else {
			res.Realtime = rt
		}
	}
	writeJSON(w, http.StatusOK, res)
}

type historyResponse struct {
	Series map[string][][10]int64 `json:"series"` // t (unix s), then Point.Counts' nine figures
	// SeriesError says why the series are missing (Redis away): the
	// events are answered all the same.
	SeriesError string  `json:"seriesError,omitempty"`
	Events      []event `json:"events"`
}

// history answers the time series from ?since= (unix s; default an hour
// ago) and the events timeline.
func (a *admin) history(w http.ResponseWriter, r *http.Request) {
	since := time.Now().Add(-time.Hour)
	if s := r.URL.Query().Get("since"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || time.Since(time.Unix(n, 0)) > maxHistory {
			writeError(w, globalchat.Errorf(globalchat.CodeBadRequest, "since must be a unix time in the last 24 h"))
			return
		}
		since = time.Unix(n, 0)
	}
	res := historyResponse{Series: map[string][][10]int64{}, Events: a.events.all()}
	if a.d.Admin.Stats != nil {
		names := []string{bandwidth.TotalSeries}
		for _, e := range bandwidth.Endpoints() {
			names = append(names, e.String())
		}
		for _, name := range names {
			pts, err := a.d.Admin.Stats.Series(r.Context(), name, since)
			if err != nil {
				res.Series, res.SeriesError = map[string][][10]int64{}, err.Error()
				break
			}
			res.Series[name] = rows(pts)
		}
	}
	writeJSON(w, http.StatusOK, res)
}

func rows(pts []bandwidth.Point) [][10]int64 {
	out := make([][10]int64, len(pts))
	for i, p := range pts {
		out[i] = [10]int64{p.At.Unix(), int64(p.BytesIn), int64(p.BytesOut), int64(p.FramesIn), int64(p.FramesOut),
			int64(p.MessagesIn), int64(p.MessagesOut), int64(p.ConnsOpened), int64(p.ConnsClosed), int64(p.Online)}
	}
	return out
}

// event is one change of a dependency's state.
type event struct {
	At     int64  `json:"at"` // ms
	Check  string `json:"check"`
	Status string `json:"status"` // "ok" or the error
}

// events remembers the changes of the checks' states, as the dashboard's
// polls see them (the first poll records every state), the last
// maxEvents of them.
type events struct {
	mu   sync.Mutex
	last map[string]string
	seen []event
}

func (e *events) observe(checks map[string]string, now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.last == nil {
		e.last = map[string]string{}
	}
	for name, status := range checks {
		if prev, ok := e.last[name]; ok && (prev == "ok") == (status == "ok") {
			continue
		}
		e.last[name] = status
		e.seen = append(e.seen, event{At: now.UnixMilli(), Check: name, Status: status})
	}
	if len(e.seen) > maxEvents {
		e.seen = append(e.seen[:0], e.seen[len(e.seen)-maxEvents:]...)
	}
}

func (e *events) all() []event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]event{}, e.seen...)
}
