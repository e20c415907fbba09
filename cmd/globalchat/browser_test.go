package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/globalchat/globalchat/internal/testenv"
)

// TestBrowser runs web/e2e/browser.mjs: two headless Chromium pages (the
// Debian package) use the embedded web client against the real binary,
// through a server restart. Screenshots land in artifacts/browser/ (or
// $ARTIFACTS_DIR).
func TestBrowser(t *testing.T) {
	testenv.Binary(t, "chromium")
	testenv.Node(t, 2*time.Minute, "web/e2e/browser.mjs",
		"GLOBALCHAT_BIN="+buildBinary(t),
		"ARTIFACTS_DIR="+artifactsDir(t, "browser"),
	)
}

// artifactsDir is where a browser test keeps its screenshots:
// $ARTIFACTS_DIR, or artifacts/<name>/ in the repository.
func artifactsDir(t *testing.T, name string) string {
	dir := os.Getenv("ARTIFACTS_DIR")
	if dir == "" {
		dir = filepath.Join(testenv.RepoRoot(t), "artifacts", name)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
