package httpapi

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/globalchat/globalchat"
	"github.com/globalchat/globalchat/bandwidth"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Chat is what the API reads of the chat service.
type Chat interface {
	// History returns up to limit messages with seq < before (before <= 0:
	// newest), oldest first, and whether older ones exist.
	History(ctx context.Context, before int64, limit int) ([]globalchat.Message, bool, error)
	// Online returns the number of users online and up to limit of them.
	Online(ctx context.Context, limit int) (int, []globalchat.User, error)
}

// Deps are the handlers' collaborators.
type Deps struct {
	Chat     Chat
	SocketIO http.Handler // the Socket.IO server
	Web      http.Handler // the web client
	// Checks are the dependencies /readyz asks, by name.
	Checks map[string]globalchat.Checker
	// Mode is the instance's mode, named in /readyz; nil: always normal.
	Mode func() globalchat.Mode
	// Draining reports that the instance is shutting down: /readyz
	// answers 503, so that a balancer's health checks take it out before
	// its connections are closed. Nil: never.
	Draining func() bool
	Gatherer prometheus.Gatherer
	// Registerer receives the HTTP metrics; nil for none.
	Registerer prometheus.Registerer
	// Meter counts each route's bytes; nil counts nothing.
	Meter *bandwidth.Meter
	// Admin is the operator's dashboard.
	Admin Admin
	// Authorize checks the credentials of a request to the chat's API
	// (/api/messages, /api/online-users): its error, a message for the
	// client, is answered 401. Nil lets everyone in (guest mode).
	Authorize func(r *http.Request) error
	// MetricsToken, when set, is asked of GET /metrics as Authorization:
	// Bearer (ADMIN_TOKEN). MetricsOff leaves /metrics out: it is served
	// on a listener of its own (Metrics, METRICS_ADDR).
	MetricsToken string
	MetricsOff   bool
	Logger       *slog.Logger
}

// Metrics serves GET /metrics alone, for a listener of its own (one that
// only the monitoring network reaches).
func Metrics(g prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	return mux
}

// Routes returns the whole HTTP API.
func Routes(d Deps) http.Handler {
	h := &handlers{d: d}
	m := newHTTPMetrics(d.Registerer)
	mux := http.NewServeMux()
	// route registers a pattern, counted on an endpoint of the meter and
	// in the HTTP metrics under its pattern.
	route := func(pattern string, ep bandwidth.Endpoint, handler http.Handler) {
		mux.Handle(pattern, m.observe(d.Meter, ep, pattern, handler))
	}
	route("GET /api/messages", bandwidth.APIMessages, h.authorized(h.messages))
	route("GET /api/online-users", bandwidth.APIOnlineUsers, h.authorized(h.onlineUsers))
	route("GET /healthz", bandwidth.Ops, http.HandlerFunc(h.healthz))
	route("GET /readyz", bandwidth.Ops, http.HandlerFunc(h.readyz))
	if !d.MetricsOff {
		route("GET /metrics", bandwidth.Ops, bearer(d.MetricsToken, promhttp.HandlerFor(d.Gatherer, promhttp.HandlerOpts{})))
	}
	// Socket.IO counts its own traffic, as Engine.IO payloads.
	mux.Handle("/socket.io/", d.SocketIO)
	route("/api/", bandwidth.Ops, http.HandlerFunc(h.notFound))
	a := &admin{d: d}
	if d.Admin.Page != nil {
		route("GET /admin", bandwidth.Ops, d.Admin.Page)
	}
	route("GET /admin/api/status", bandwidth.Ops, http.HandlerFunc(a.status))
	route("GET /admin/api/live", bandwidth.Ops, RequireToken(d.Admin.Token, http.HandlerFunc(a.live)))
	route("GET /admin/api/history", bandwidth.Ops, RequireToken(d.Admin.Token, http.HandlerFunc(a.history)))
	route("/", bandwidth.Static, d.Web)
	return mux
}
