package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/globalchat/globalchat/bandwidth"
	"github.com/prometheus/client_golang/prometheus"
)

// TestRoutesAreCounted: each route's body bytes go to its endpoint, and
// each request to the HTTP metrics by route and status.
func TestRoutesAreCounted(t *testing.T) {
	reg := prometheus.NewRegistry()
	meter := bandwidth.NewMeter()
	h := Routes(Deps{Chat: &fakeChat{}, Gatherer: reg, Registerer: reg, Meter: meter,
		SocketIO: http.NotFoundHandler(), Web: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("<html>"))
		})})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/messages?limit=5", nil))
	body := rec.Body.Len()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/api/messages?limit=0", nil))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/index.html", strings.NewReader("abc")))
	tot := meter.Totals()
	if api := tot.Endpoints[bandwidth.APIMessages]; api.FramesIn != 2 || api.FramesOut != 2 || api.BytesOut <= uint64(body) {
		t.Fatalf("api %+v (first body %d)", api, body)
	}
	if st := tot.Endpoints[bandwidth.Static]; st.BytesOut != 6 || st.FramesOut != 1 {
		t.Fatalf("static %+v", st)
	}
	if n := requests(t, reg, "GET /api/messages", "400"); n != 1 {
		t.Fatalf("400s: %v", n)
	}
}

// requests reads http_requests_total{route, status} from reg.
func requests(t *testing.T, reg *prometheus.Registry, route, status string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "http_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["route"] == route && labels["status"] == status {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
