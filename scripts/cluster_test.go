package scripts

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/globalchat/globalchat/internal/testenv"
)

// TestMakeCluster runs scripts/cluster.sh as `make cluster` does, with
// every port left for it to pick: the chat answers ready through nginx
// (Redis with its password and MariaDB reached), every instance listens
// on loopback only, and Ctrl-C stops everything and removes its folder.
func TestMakeCluster(t *testing.T) {
	testenv.LoadLock(t)
	for _, bin := range []string{"redis-server", "mariadbd", "mariadb-install-db", "mariadb", "nginx", "python3"} {
		testenv.Binary(t, bin)
	}
	cmd := exec.Command("./scripts/cluster.sh")
	cmd.Dir = testenv.RepoRoot(t)
	cmd.Env = os.Environ()
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
	})
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		exited <- cmd.Wait()
	}()
	open := regexp.MustCompile(`^cluster: open (http://127\.0\.0\.1:\d+)/ \(instances on ((?:127\.0\.0\.1:\d+ ?){3}),`)
	folder := regexp.MustCompile(`^cluster: logs and settings .* in (\S+)$`)
	var url, dir string
	var instances []string
	deadline := time.After(3 * time.Minute)
	for url == "" || dir == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("cluster.sh ended: %v", <-exited)
			}
			t.Log(l)
			if m := open.FindStringSubmatch(l); m != nil {
				url, instances = m[1], strings.Fields(m[2])
			}
			if m := folder.FindStringSubmatch(l); m != nil {
				dir = m[1]
			}
		case <-deadline:
			t.Fatal("cluster.sh: no address within 3 minutes")
		}
	}
	go func() {
		for range lines {
		}
	}()
	var ready struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	client := &http.Client{Timeout: 5 * time.Second}
	for end := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		res, err := client.Get(url + "/readyz")
		if err == nil {
			ready.Status = ""
			json.NewDecoder(res.Body).Decode(&ready)
			res.Body.Close()
			if res.StatusCode == http.StatusOK && ready.Status == "ok" {
				break
			}
		}
		if time.Now().After(end) {
			t.Fatalf("no ready cluster at %s within a minute: %v %+v", url, err, ready)
		}
	}
	if ready.Checks["redis"] != "ok" || ready.Checks["mysql"] != "ok" {
		t.Fatalf("checks through nginx: %v", ready.Checks)
	}
	for i, addr := range instances {
		log, err := os.ReadFile(filepath.Join(dir, "instance-"+string(rune('0'+i))+".log"))
		if err != nil || !strings.Contains(string(log), "addr="+addr) {
			t.Errorf("instance %d does not say it listens on %s: %v\n%s", i, addr, err, log)
		}
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
	select {
	case <-exited:
	case <-time.After(40 * time.Second):
		t.Fatal("cluster.sh did not stop within 40 s of Ctrl-C")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s left behind: %v", dir, err)
	}
}
