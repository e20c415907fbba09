package main

import (
	"io"
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
