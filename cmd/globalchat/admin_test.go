package main

import (
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
	testenv.Node(t, 3*time.Minute, "web/e2e/admin.mjs",
		"GLOBALCHAT_BIN="+buildBinary(t),
		"ARTIFACTS_DIR="+artifactsDir(t, "admin"),
		"REDIS_PORT="+strconv.Itoa(testenv.FreePort(t)),
		"PORT="+strconv.Itoa(testenv.FreePort(t)),
		"PORT_OFF="+strconv.Itoa(testenv.FreePort(t)),
	)
}
