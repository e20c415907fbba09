package httpapi

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func status(h http.Handler, target, authorization string) int {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	if authorization != "" {
		r.Header.Set("Authorization", authorization)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code
}

func guarded(d Deps) http.Handler {
	d.Chat, d.Gatherer = &fakeChat{}, prometheus.NewRegistry()
	d.SocketIO, d.Web = http.NotFoundHandler(), http.NotFoundHandler()
	return Routes(d)
}

func TestMetricsGuards(t *testing.T) {
	h := guarded(Deps{MetricsToken: "an-admin-token-of-16+"})
	for auth, want := range map[string]int{"": 401, "Bearer wrong": 401, "an-admin-token-of-16+": 401, "Bearer an-admin-token-of-16+": 200} {
		if got := status(h, "/metrics", auth); got != want {
			t.Errorf("/metrics with %q: %d, want %d", auth, got, want)
		}
	}
	if got := status(guarded(Deps{MetricsOff: true}), "/metrics", ""); got == 200 {
		t.Error("/metrics served on the public listener with METRICS_ADDR set")
	}
	if got := status(Metrics(prometheus.NewRegistry()), "/metrics", ""); got != 200 {
		t.Errorf("the metrics listener: %d", got)
	}
}

func TestAPIAuthorize(t *testing.T) {
	h := guarded(Deps{Authorize: func(r *http.Request) error {
		if r.Header.Get("Authorization") != "Bearer good" {
			return errors.New("token required")
		}
		return nil
	}})
	for _, path := range []string{"/api/messages", "/api/online-users"} {
		if got := status(h, path, ""); got != 401 {
			t.Errorf("%s without a token: %d", path, got)
		}
		if got := status(h, path, "Bearer good"); got != 200 {
			t.Errorf("%s with a token: %d", path, got)
		}
	}
	if got := status(h, "/healthz", ""); got != 200 {
		t.Errorf("/healthz: %d", got)
	}
}
