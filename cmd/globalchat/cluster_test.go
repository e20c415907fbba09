package main

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/globalchat/globalchat/internal/testenv"
)

// TestClusterBehindNginx runs jstest/cluster.mjs: three instances of the
// real binary on a real Redis and MariaDB, behind nginx with the project's
// deploy/nginx.conf.
func TestClusterBehindNginx(t *testing.T) {
	testenv.LoadLock(t) // not beside the fault suite
	bin := buildBinary(t)
	rdb := testenv.Redis(t)
	db := testenv.MariaDB(t)
	dsn := db.DSN("globalchat")
	ports := make([]string, 3)
	upstreams := make([]string, 3)
	for i := range ports {
		ports[i] = strconv.Itoa(testenv.FreePort(t))
		upstreams[i] = testenv.Addr(mustAtoi(ports[i]))
	}
	nginx := testenv.Nginx(t, upstreams)
	_, redisPort, _ := net.SplitHostPort(rdb.Addr)
	_, mysqlPort, _ := net.SplitHostPort(db.Addr)
	testenv.Node(t, 4*time.Minute, "jstest/cluster.mjs",
		"GLOBALCHAT_BIN="+bin,
		"REDIS_URL="+rdb.URL(),
		"REDIS_PORT="+redisPort,
		"MYSQL_DSN="+dsn,
		"MYSQL_PORT="+mysqlPort,
		"MYSQL_DB=globalchat",
		"PORTS="+strings.Join(ports, ","),
		"NGINX_URL="+nginx.URL(),
	)
}

func mustAtoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		panic(err)
	}
	return n
}
