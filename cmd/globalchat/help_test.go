package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/globalchat/globalchat/internal/testenv"
)

// TestREADMEConfigTable: the README's configuration table is the one
// --help prints, generated from the settings.
func TestREADMEConfigTable(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(readme)
	start := strings.Index(s, "| variable | default | meaning |")
	if start < 0 {
		t.Fatal("README has no configuration table")
	}
	end := strings.Index(s[start:], "\n\n")
	if got, want := s[start:start+end+1], configTable(); got != want {
		t.Fatalf("README's table differs from the settings': replace it with the table of `globalchat --help`:\n%s", want)
	}
}

// TestHelpAndVersion: --help prints the table and exits 0; --version
// prints the version and commit given at build time.
func TestHelpAndVersion(t *testing.T) {
	out, err := exec.Command(buildBinary(t), "--help").Output()
	if err != nil || !strings.Contains(string(out), configTable()) {
		t.Fatalf("--help: %v\n%s", err, out)
	}
	bin := filepath.Join(t.TempDir(), "globalchat")
	build := exec.Command("go", "build", "-ldflags", "-X main.version=v9.8.7 -X main.commit=0123abcd", "-o", bin, ".")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	out, err = exec.Command(bin, "-version").Output()
	if err != nil || !strings.HasPrefix(string(out), "globalchat v9.8.7 (commit 0123abcd") {
		t.Fatalf("--version: %v %q", err, out)
	}
}
