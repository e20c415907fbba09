package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/globalchat/globalchat/httpapi"
)

// serveMetrics serves /metrics on METRICS_ADDR, when set: a listener that
// only the monitoring network should reach, so that the public port need
// not answer it. It returns what stops it.
func (s *server) serveMetrics() (stop func(), err error) {
	if s.cfg.MetricsAddr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", s.cfg.MetricsAddr)
	if err != nil {
		return nil, fmt.Errorf("listen METRICS_ADDR: %w", err)
	}
	srv := &http.Server{Handler: httpapi.Metrics(s.reg), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	s.log.Info("metrics listening", "addr", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}
