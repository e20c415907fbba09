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
