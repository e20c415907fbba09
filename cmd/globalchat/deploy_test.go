package main

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/globalchat/globalchat/internal/testenv"
)

// TestSystemdUnitVerifies runs systemd-analyze verify on the shipped unit,
// an instance of it, pointed at the built binary: any complaint (an
// unknown key, a bad value, a missing binary) fails the test.
func TestSystemdUnitVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatal("systemd-analyze not found: run `make deps` (Debian package systemd)")
	}
	unit, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "deploy", "globalchat@.service"))
	if err != nil {
		t.Fatal(err)
	}
	env := filepath.Join(t.TempDir(), "globalchat.env")
	example, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "deploy", "globalchat.env.example"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(env, example, 0o600); err != nil {
		t.Fatal(err)
	}
	text := strings.NewReplacer(
		"ExecStart=/usr/local/bin/globalchat", "ExecStart="+buildBinary(t),
		"EnvironmentFile=/etc/globalchat/globalchat.env", "EnvironmentFile="+env,
	).Replace(string(unit))
	path := filepath.Join(t.TempDir(), "globalchat@3001.service")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	// systemd's stop must outlast the drain and the shutdown after it, or
	// it SIGKILLs an instance still closing its clients.
	cfg, err := loadConfig(nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^TimeoutStopSec=(\d+)$`).FindStringSubmatch(text)
	if m == nil {
		t.Fatal("no TimeoutStopSec in the unit")
	}
	if stop, _ := strconv.Atoi(m[1]); time.Duration(stop)*time.Second <= cfg.DrainWindow+cfg.ShutdownTimeout {
		t.Errorf("TimeoutStopSec=%ds, not above DRAIN_WINDOW + SHUTDOWN_TIMEOUT (%v + %v)", stop, cfg.DrainWindow, cfg.ShutdownTimeout)
	}
}

// TestMariaDBSnippetParses: mariadbd reads deploy/mariadb.cnf and knows
// every option in it (an unknown one makes it exit non-zero).
func TestMariaDBSnippetParses(t *testing.T) {
	conf := filepath.Join(testenv.RepoRoot(t), "deploy", "mariadb.cnf")
	cmd := exec.Command(testenv.Binary(t, "mariadbd"), "--defaults-file="+conf, "--datadir="+t.TempDir(), "--help", "--verbose")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mariadbd --defaults-file=deploy/mariadb.cnf: %v\n%s", err, out)
	}
}

// TestNginxTLSTermination turns on the "#tls " lines of deploy/nginx.conf
// as its header says (a certificate from a CA made here), and reaches the
// server through nginx over https: an Engine.IO handshake and /readyz,
// with the HSTS header; plain http still answers on the same server.
func TestNginxTLSTermination(t *testing.T) {
	in := startBinary(t, "TRUSTED_PROXIES=127.0.0.1")
	dir := t.TempDir()
	caFile := writeTestCA(t, dir)
	port := testenv.FreePort(t)
	n := testenv.NginxWith(t, []string{in.addr}, func(site string) string {
		on := regexp.MustCompile(`(?m)^(\s*)#tls `).ReplaceAllString(site, "${1}")
		return strings.NewReplacer(
			"listen 443 ssl;", "listen "+testenv.Addr(port)+" ssl;",
			"/etc/globalchat/tls/fullchain.pem", filepath.Join(dir, "redis.pem"),
			"/etc/globalchat/tls/privkey.pem", filepath.Join(dir, "redis.key"),
		).Replace(on)
	})
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	get := func(url string) (*http.Response, string) {
		t.Helper()
		res, err := client.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res, string(body)
	}
	base := "https://" + testenv.Addr(port)
	res, body := get(base + "/socket.io/?EIO=4&transport=polling")
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(body, `0{"sid":`) || res.TLS == nil {
		t.Fatalf("handshake over https: %d %q", res.StatusCode, body)
	}
	if hsts := res.Header.Get("Strict-Transport-Security"); hsts == "" {
		t.Error("no Strict-Transport-Security over https")
	}
	if res, body := get(base + "/readyz"); res.StatusCode != http.StatusOK {
		t.Fatalf("/readyz over https: %d %s", res.StatusCode, body)
	}
	if res, body := get(n.URL() + "/readyz"); res.StatusCode != http.StatusOK {
		t.Fatalf("/readyz over http: %d %s", res.StatusCode, body)
	}
}
