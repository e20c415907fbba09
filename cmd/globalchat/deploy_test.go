package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

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
