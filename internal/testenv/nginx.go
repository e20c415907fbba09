package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// NginxServer is an nginx started for a test with the project's
// deploy/nginx.conf, its listen port and upstream servers replaced.
type NginxServer struct {
	Addr string
	cmd  *exec.Cmd
}

var (
	upstreamLine = regexp.MustCompile(`(?m)^(\s*)server 127\.0\.0\.1:300\d( [^;]*)?;\n`)
	listenLine   = regexp.MustCompile(`(?m)^(\s*)listen 80;`)
)

// Nginx starts nginx in front of upstreams (host:port) on a free port.
func Nginx(t testing.TB, upstreams []string) *NginxServer {
	t.Helper()
	return startNginx(t, upstreams, false, nil)
}

// NginxWith is Nginx with the site config (deploy/nginx.conf, pointed at
// the test's ports) passed through edit first: to turn on a part of it,
// such as the TLS lines.
func NginxWith(t testing.TB, upstreams []string, edit func(site string) string) *NginxServer {
	t.Helper()
	return startNginx(t, upstreams, false, edit)
}

// NginxRoundRobin is Nginx without the deploy config's ip_hash: each new
// connection goes to the next upstream, so a WebSocket-only client of an
// instance that died reconnects to another one.
func NginxRoundRobin(t testing.TB, upstreams []string) *NginxServer {
	t.Helper()
	return startNginx(t, upstreams, true, nil)
}

var ipHashLine = regexp.MustCompile(`(?m)^\s*ip_hash;\n`)

func startNginx(t testing.TB, upstreams []string, roundRobin bool, edit func(string) string) *NginxServer {
	t.Helper()
	bin := Binary(t, "nginx")
	site, err := os.ReadFile(filepath.Join(RepoRoot(t), "deploy", "nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if roundRobin {
		site = ipHashLine.ReplaceAll(site, nil)
	}
	dir := t.TempDir()
	port := FreePort(t)
	conf := siteConfig(string(site), upstreams, port)
	if edit != nil {
		conf = edit(conf)
	}
	main := fmt.Sprintf(`%s
worker_processes 1;
daemon off;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path %[2]s/body;
    proxy_temp_path %[2]s/proxy;
    fastcgi_temp_path %[2]s/fastcgi;
    uwsgi_temp_path %[2]s/uwsgi;
    scgi_temp_path %[2]s/scgi;
    include %[2]s/site.conf;
}
`, userLine(), dir)
	for name, body := range map[string]string{"site.conf": conf, "nginx.conf": main} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bin, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if out, err := exec.Command(bin, "-t", "-p", dir, "-c", filepath.Join(dir, "nginx.conf")).CombinedOutput(); err != nil {
		t.Fatalf("testenv: nginx config: %v\n%s", err, out)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("testenv: nginx: %v", err)
	}
	n := &NginxServer{Addr: Addr(port), cmd: cmd}
	t.Cleanup(n.stop)
	WaitTCP(t, n.Addr, 10*time.Second)
	return n
}

// siteConfig points the deploy config at the test's ports.
func siteConfig(site string, upstreams []string, port int) string {
	var servers strings.Builder
	for _, u := range upstreams {
		// As deploy/nginx.conf has them (its comment says why).
		fmt.Fprintf(&servers, "    server %s max_fails=0;\n", u)
	}
	done := false
	site = upstreamLine.ReplaceAllStringFunc(site, func(string) string {
		if done {
			return ""
		}
		done = true
		return servers.String()
	})
	return listenLine.ReplaceAllString(site, fmt.Sprintf("${1}listen 127.0.0.1:%d;", port))
}

// userLine keeps nginx's workers as root when the tests run as root, so
// they can use the temporary folder.
func userLine() string {
	if os.Geteuid() == 0 {
		return "user root;"
	}
	return ""
}

func (n *NginxServer) stop() {
	if n.cmd.Process == nil {
		return
	}
	n.cmd.Process.Signal(syscall.SIGQUIT)
	done := make(chan struct{})
	go func() { n.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		n.cmd.Process.Kill()
		<-done
	}
}

// URL returns http://addr.
func (n *NginxServer) URL() string { return "http://" + n.Addr }
