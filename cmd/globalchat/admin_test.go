package main

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/globalchat/globalchat/internal/testenv"
)

// TestAdminDashboard runs web/e2e/admin.mjs: headless Chromium on /admin of
// the real binary on a real Redis (the script starts, kills and restarts
// redis-server): refused without the token, live charts that move under
// load, Redis reported down and back. Screenshots land in artifacts/admin/
// (or $ARTIFACTS_DIR).
func TestAdminDashboard(t *testing.T) {
	testenv.Binary(t, "chromium")
	testenv.Binary(t, "redis-server")
	dir := os.Getenv("ARTIFACTS_DIR")
	if dir == "" {
		dir = filepath.Join(testenv.RepoRoot(t), "artifacts", "admin")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	testenv.Node(t, 3*time.Minute, "web/e2e/admin.mjs",
		"GLOBALCHAT_BIN="+buildBinary(t),
		"ARTIFACTS_DIR="+dir,
		"REDIS_PORT="+strconv.Itoa(testenv.FreePort(t)),
		"PORT="+strconv.Itoa(testenv.FreePort(t)),
		"PORT_OFF="+strconv.Itoa(testenv.FreePort(t)),
	)
}
