package httpapi

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/globalchat/globalchat"
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
	Checks   map[string]globalchat.Checker
	Gatherer prometheus.Gatherer
	Logger   *slog.Logger
}

// Routes returns the whole HTTP API.
func Routes(d Deps) http.Handler {
	h := &handlers{d: d}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/messages", h.messages)
	mux.HandleFunc("GET /api/online-users", h.onlineUsers)
	mux.HandleFunc("GET /healthz", h.healthz)
	mux.HandleFunc("GET /readyz", h.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.Gatherer, promhttp.HandlerOpts{}))
	mux.Handle("/socket.io/", d.SocketIO)
	mux.HandleFunc("/api/", h.notFound)
	mux.Handle("/", d.Web)
	return mux
}
