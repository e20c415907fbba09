package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/globalchat/globalchat"
	"github.com/prometheus/client_golang/prometheus"
)

type fakeChat struct {
	err    error
	before int64
	limit  int
}

func (f *fakeChat) History(_ context.Context, before int64, limit int) ([]globalchat.Message, bool, error) {
	f.before, f.limit = before, limit
	return []globalchat.Message{{ID: "m1", Seq: 7}}, true, f.err
}

func (f *fakeChat) Online(context.Context, int) (int, []globalchat.User, error) {
	return 1, []globalchat.User{{ID: "u1", Name: "Ada"}}, f.err
}

type check struct{ err error }

func (c check) Ping(context.Context) error { return c.err }

func serve(t *testing.T, d Deps, method, target string) (int, map[string]any) {
	t.Helper()
	if d.Gatherer == nil {
		d.Gatherer = prometheus.NewRegistry()
	}
	d.SocketIO, d.Web = http.NotFoundHandler(), http.NotFoundHandler()
	rec := httptest.NewRecorder()
	Routes(d).ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	var body map[string]any
	json.Unmarshal(rec.Body.Bytes(), &body)
	return rec.Code, body
}

func TestMessages(t *testing.T) {
	chat := &fakeChat{}
	code, body := serve(t, Deps{Chat: chat}, "GET", "/api/messages?before=10&limit=20")
	if code != 200 || body["hasMore"] != true || len(body["messages"].([]any)) != 1 || chat.before != 10 || chat.limit != 20 {
		t.Fatalf("%d %v %+v", code, body, chat)
	}
	code, _ = serve(t, Deps{Chat: chat}, "GET", "/api/messages")
	if code != 200 || chat.before != 0 || chat.limit != 50 {
		t.Fatalf("defaults: %d %+v", code, chat)
	}
	for _, q := range []string{"before=x", "before=0", "before=-3", "limit=0", "limit=101", "limit=1.5"} {
		code, body := serve(t, Deps{Chat: chat}, "GET", "/api/messages?"+q)
		if code != 400 || body["error"].(map[string]any)["code"] != "bad_request" {
			t.Errorf("%s: %d %v", q, code, body)
		}
	}
}

func TestErrorsMapToStatuses(t *testing.T) {
	for err, want := range map[error]int{
		fmt.Errorf("store: %w", globalchat.ErrUnavailable): 503,
		errors.New("boom"): 500,
	} {
		code, body := serve(t, Deps{Chat: &fakeChat{err: err}}, "GET", "/api/online-users")
		if code != want || body["error"] == nil {
			t.Errorf("%v: %d %v", err, code, body)
		}
	}
	code, body := serve(t, Deps{Chat: &fakeChat{}}, "GET", "/api/nothing")
	if code != 404 || body["error"].(map[string]any)["code"] != "not_found" {
		t.Errorf("unknown endpoint: %d %v", code, body)
	}
}

func TestReadiness(t *testing.T) {
	ok := Deps{Chat: &fakeChat{}, Checks: map[string]globalchat.Checker{"redis": check{}, "mysql": check{}}}
	if code, body := serve(t, ok, "GET", "/readyz"); code != 200 || body["status"] != "ok" {
		t.Fatalf("%d %v", code, body)
	}
	// One dependency away: degraded, still ready (messages are accepted).
	down := Deps{Chat: &fakeChat{}, Checks: map[string]globalchat.Checker{"redis": check{errors.New("refused")}, "mysql": check{}},
		Mode: func() globalchat.Mode { return globalchat.ModeRedisAway }}
	code, body := serve(t, down, "GET", "/readyz")
	checks := body["checks"].(map[string]any)
	failing, _ := body["failing"].([]any)
	if code != 200 || checks["redis"] != "refused" || checks["mysql"] != "ok" ||
		body["status"] != "degraded: redis" || body["mode"] != "redis away" || len(failing) != 1 || failing[0] != "redis" {
		t.Fatalf("%d %v", code, body)
	}
	// Nothing answers, or the mode says nothing can hold a message: 503.
	none := Deps{Chat: &fakeChat{}, Checks: map[string]globalchat.Checker{"redis": check{errors.New("refused")}, "mysql": check{errors.New("refused")}}}
	if code, body := serve(t, none, "GET", "/readyz"); code != 503 || body["status"] != "unavailable: mysql, redis" {
		t.Fatalf("%d %v", code, body)
	}
	both := Deps{Chat: &fakeChat{}, Checks: map[string]globalchat.Checker{"mysql": check{}},
		Mode: func() globalchat.Mode { return globalchat.ModeBothAway }}
	if code, body := serve(t, both, "GET", "/readyz"); code != 503 {
		t.Fatalf("both away: %d %v", code, body)
	}
	if code, _ := serve(t, down, "GET", "/healthz"); code != 200 {
		t.Fatalf("healthz %d", code)
	}
	// Draining before a stop: 503 whatever the dependencies say, so that
	// health checks take the instance out; alive all the same.
	draining := ok
	draining.Draining = func() bool { return true }
	if code, body := serve(t, draining, "GET", "/readyz"); code != 503 || body["status"] != "draining" || body["mode"] != "normal" {
		t.Fatalf("draining: %d %v", code, body)
	}
	if code, _ := serve(t, draining, "GET", "/healthz"); code != 200 {
		t.Fatalf("healthz while draining: %d", code)
	}
}
