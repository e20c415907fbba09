//go:build benchpprof

// This file is not part of any package in the tree: scripts/bench.sh adds
// it to cmd/globalchat at build time (go build -tags benchpprof -overlay)
// when BENCH_PROFILE=1, so that the server can be profiled without a
// profiling endpoint in the product. It serves net/http/pprof on
// PPROF_ADDR (a loopback address), apart from the chat's own port.
package main

import (
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof on http.DefaultServeMux
	"os"
	"runtime"
	"time"
)

func init() {
	addr := os.Getenv("PPROF_ADDR")
	if addr == "" {
		return
	}
	if host, _, err := net.SplitHostPort(addr); err != nil || !net.ParseIP(host).IsLoopback() {
		slog.Error("bench pprof: PPROF_ADDR must be a loopback host:port", "addr", addr)
		return
	}
	// Blocking and contention, for the latency questions.
	runtime.SetBlockProfileRate(int(1e6)) // one sample per ms blocked
	runtime.SetMutexProfileFraction(100)
	go func() {
		srv := &http.Server{Addr: addr, Handler: http.DefaultServeMux, ReadHeaderTimeout: 10 * time.Second}
		slog.Error("bench pprof stopped", "err", srv.ListenAndServe())
	}()
}
