package testenv

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// RepoRoot returns the repository's root: the nearest folder above the
// test's working directory that holds go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("testenv: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Node runs a Node.js script (a path from the repository's root) with the
// extra environment, logs its output and fails the test when it fails.
// The npm packages of the script's folder must be installed: `make deps`.
func Node(t testing.TB, timeout time.Duration, script string, env ...string) {
	t.Helper()
	root := RepoRoot(t)
	path := filepath.Join(root, script)
	if !hasNodeModules(filepath.Dir(path), root) {
		t.Fatalf("testenv: npm packages of %s are not installed; run `make deps`", filepath.Dir(script))
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, Binary(t, "node"), path)
	cmd.Dir = filepath.Dir(path)
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	t.Logf("%s:\n%s", script, out)
	if err != nil {
		t.Fatalf("%s failed: %v", script, err)
	}
}

// hasNodeModules reports whether dir or a folder above it, up to root,
// holds node_modules, as Node's module resolution looks.
func hasNodeModules(dir, root string) bool {
	for {
		if _, err := os.Stat(filepath.Join(dir, "node_modules")); err == nil {
			return true
		}
		if dir == root || filepath.Dir(dir) == dir {
			return false
		}
		dir = filepath.Dir(dir)
	}
}
