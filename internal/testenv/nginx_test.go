package testenv

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestNginxProxiesToUpstreams(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "upstream says hi")
	}))
	defer up.Close()
	n := Nginx(t, []string{strings.TrimPrefix(up.URL, "http://")})
	res, err := http.Get(n.URL() + "/x")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(body) != "upstream says hi" {
		t.Fatalf("got %d %q", res.StatusCode, body)
	}
}

func TestNginxRoundRobinUsesEveryUpstream(t *testing.T) {
	var names []string
	for _, name := range []string{"one", "two"} {
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, name)
		}))
		defer up.Close()
		names = append(names, strings.TrimPrefix(up.URL, "http://"))
	}
	n := NginxRoundRobin(t, names)
	seen := map[string]bool{}
	for range 4 {
		res, err := http.Get(n.URL() + "/x")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		seen[string(body)] = true
	}
	if !seen["one"] || !seen["two"] {
		t.Fatalf("answers from %v; want both upstreams", seen)
	}
}
