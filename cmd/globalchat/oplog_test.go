package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/globalchat/globalchat/internal/testenv"
)

// pollingClient is a raw Engine.IO long-polling session.
type pollingClient struct {
	t   *testing.T
	url string
}

func (p *pollingClient) do(method, body string) string {
	p.t.Helper()
	req, _ := http.NewRequest(method, p.url, strings.NewReader(body))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

func openPolling(t *testing.T, base string) *pollingClient {
	t.Helper()
	p := &pollingClient{t: t, url: base + "/socket.io/?EIO=4&transport=polling"}
	var open struct{ SID string }
	if err := json.Unmarshal([]byte(strings.TrimPrefix(p.do("GET", ""), "0")), &open); err != nil {
		t.Fatal(err)
	}
	p.url += "&sid=" + open.SID
	return p
}

// TestOperatorLogs: the start says what the instance runs on, a refused
// connection and an invalid message are logged with their reason (the
// second refusal from the same address within the minute only counted),
// durations are milliseconds, and /readyz answers JSON.
func TestOperatorLogs(t *testing.T) {
	port := testenv.FreePort(t)
	cmd := exec.Command(buildBinary(t))
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port), "SQLITE_PATH="+t.TempDir()+"/chat.db", "LOG_FORMAT=json")
	out, err := os.Create(t.TempDir() + "/stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd.Stderr = out
	logged := func() string {
		b, _ := os.ReadFile(out.Name())
		return string(b)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	base := "http://" + testenv.Addr(port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if res, err := http.Get(base + "/readyz"); err == nil {
			var body map[string]any
			err = json.NewDecoder(res.Body).Decode(&body)
			res.Body.Close()
			if err != nil || body["status"] != "ok" {
				t.Fatalf("/readyz: %v %v", err, body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no start: %s", logged())
		}
		time.Sleep(50 * time.Millisecond)
	}
	for range 2 {
		p := openPolling(t, base)
		p.do("POST", `40{"username":""}`)
		if got := p.do("GET", ""); !strings.HasPrefix(got, "44") {
			t.Fatalf("not refused: %q", got)
		}
	}
	p := openPolling(t, base)
	p.do("POST", `40{"username":"ann"}`)
	p.do("GET", "")
	p.do("POST", `42["chat:message",{"content":"   "}]`)
	time.Sleep(300 * time.Millisecond)
	cmd.Process.Signal(os.Interrupt)
	cmd.Wait()
	logs := logged()
	for _, want := range []string{
		`"msg":"in-memory state`, `"msg":"globalchat listening"`, `"version":"globalchat `,
		`"duration_ms":`, `"msg":"chat: connection refused","kind":"auth_refused","key":"127.0.0.1","reason":"username must be`,
		`"msg":"chat: invalid message refused","kind":"invalid_message","key":"127.0.0.1"`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("no %s in the logs:\n%s", want, logs)
		}
	}
	if n := strings.Count(logs, `"chat: connection refused"`); n != 1 {
		t.Errorf("%d refusal lines, want 1 (the second one sampled out):\n%s", n, logs)
	}
}
