package main

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/globalchat/globalchat/internal/testenv"
)

// TestBandwidthAcrossInstances runs jstest/bandwidth.mjs: three instances
// of the real binary on a real Redis; the bandwidth:* keys hold what the
// official client sent and received, one time-series point per interval,
// each key with a TTL.
func TestBandwidthAcrossInstances(t *testing.T) {
	bin := buildBinary(t)
	rdb := testenv.Redis(t)
	_, redisPort, _ := net.SplitHostPort(rdb.Addr)
	ports := make([]string, 3)
	for i := range ports {
		ports[i] = strconv.Itoa(testenv.FreePort(t))
	}
	testenv.Node(t, 2*time.Minute, "jstest/bandwidth.mjs",
		"GLOBALCHAT_BIN="+bin,
		"REDIS_URL="+rdb.URL(),
		"REDIS_PORT="+redisPort,
		"PORTS="+strings.Join(ports, ","),
		"DATA_DIR="+t.TempDir(),
	)
}
