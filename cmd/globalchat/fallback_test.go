package main

import (
	"strconv"
	"testing"
	"time"

	"github.com/globalchat/globalchat/internal/testenv"
)

// TestRedisUnreachableAtStart runs jstest/fallback.mjs: the server starts
// on in-memory state when Redis does not answer, and moves to Redis (a
// real redis-server the script starts later) without a restart.
func TestRedisUnreachableAtStart(t *testing.T) {
	testenv.Binary(t, "redis-server")
	testenv.Node(t, 2*time.Minute, "jstest/fallback.mjs",
		"GLOBALCHAT_BIN="+buildBinary(t),
		"REDIS_PORT="+strconv.Itoa(testenv.FreePort(t)),
		"PORT_A="+strconv.Itoa(testenv.FreePort(t)),
		"PORT_B="+strconv.Itoa(testenv.FreePort(t)),
		"DATA_DIR="+t.TempDir(),
	)
}
