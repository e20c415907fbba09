package testenv

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// pythons are the interpreters tried for Python clients, Debian's first:
// python3-socketio installs into it, and a python3 earlier on PATH (pyenv,
// a virtualenv) may not see it.
var pythons = []string{"/usr/bin/python3", "python3"}

// Python runs a Python script of the repository (path relative to its
// root) with args, and fails the test when it fails or outlives timeout.
// The interpreter must import the modules named in needs; none that does
// fails the test with what to install.
func Python(t testing.TB, timeout time.Duration, needs, script string, args ...string) {
	t.Helper()
	py := pythonWith(t, needs)
	path := filepath.Join(RepoRoot(t), script)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, append([]string{path}, args...)...)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	t.Logf("%s %v:\n%s", script, args, out)
	if err != nil {
		t.Fatalf("%s %v failed: %v", script, args, err)
	}
}

// pythonWith returns the first interpreter that imports needs (a comma
// separated list of modules).
func pythonWith(t testing.TB, needs string) string {
	t.Helper()
	for _, name := range pythons {
		p, err := exec.LookPath(name)
		if err != nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err = exec.CommandContext(ctx, p, "-c", "import "+needs).Run()
		cancel()
		if err == nil {
			return p
		}
	}
	t.Fatalf("testenv: no python3 imports %s; run `make deps` (Debian: python3-socketio, python3-requests, python3-websocket)", needs)
	return ""
}
