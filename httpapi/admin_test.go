package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/globalchat/globalchat"
	"github.com/globalchat/globalchat/bandwidth"
	"github.com/prometheus/client_golang/prometheus"
)

func adminGet(t *testing.T, h http.Handler, target, token string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest("GET", target, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var body map[string]any
	json.Unmarshal(rec.Body.Bytes(), &body)
	return rec.Code, body
}

// TestAdminAPI: the dashboard's API answers only with the token; without
// a token configured it is off, and says how to turn it on.
func TestAdminAPI(t *testing.T) {
	store := bandwidth.NewMemory(time.Second, time.Hour)
	var tot bandwidth.Totals
	tot.Endpoints[bandwidth.WebSocket].BytesOut = 42
	store.Flush(context.Background(), bandwidth.Sample{Instance: "i1", At: time.Now(), Elapsed: time.Second, Totals: tot, Delta: tot, Online: 1})
	redis := &check{}
	d := Deps{Chat: &fakeChat{}, Gatherer: prometheus.NewRegistry(), SocketIO: http.NotFoundHandler(), Web: http.NotFoundHandler(),
		Checks: map[string]globalchat.Checker{"redis": redis},
		Admin:  Admin{Token: "s3cret-token", Stats: store, Instance: "i1", Page: http.NotFoundHandler()}}
	h := Routes(d)
	for _, tok := range []string{"", "wrong"} {
		if code, body := adminGet(t, h, "/admin/api/live", tok); code != 401 || body["error"] == nil {
			t.Fatalf("token %q: %d %v", tok, code, body)
		}
	}
	if code, body := adminGet(t, h, "/admin/api/status", ""); code != 200 || body["enabled"] != true {
		t.Fatalf("status %d %v", code, body)
	}
	code, body := adminGet(t, h, "/admin/api/live", "s3cret-token")
	rt, _ := body["realtime"].(map[string]any)
	if code != 200 || rt["websocket:bytes_out_total"] != "42" || body["checks"].(map[string]any)["redis"] != "ok" || body["mode"] != "normal" {
		t.Fatalf("live %d %v", code, body)
	}
	*redis = check{errors.New("connection refused")}
	adminGet(t, h, "/admin/api/live", "s3cret-token")
	code, body = adminGet(t, h, "/admin/api/history", "s3cret-token")
	series, _ := body["series"].(map[string]any)
	events, _ := body["events"].([]any)
	if code != 200 || len(series["websocket"].([]any)) != 1 || len(events) != 3 || // redis and mode at the first poll, then redis down
		events[2].(map[string]any)["status"] != "connection refused" || body["seriesError"] != nil {
		t.Fatalf("history %d %v", code, body)
	}
	if code, _ := adminGet(t, h, "/admin/api/history?since=12", "s3cret-token"); code != 400 {
		t.Fatalf("old since: %d", code)
	}
	d.Admin.Token = ""
	off := Routes(d)
	if code, body := adminGet(t, off, "/admin/api/status", ""); code != 200 || body["enabled"] != false {
		t.Fatalf("off status %d %v", code, body)
	}
	if code, _ := adminGet(t, off, "/admin/api/live", ""); code != 404 {
		t.Fatalf("off live %d", code)
	}
}
