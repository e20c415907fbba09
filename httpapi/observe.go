package httpapi

import (
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/globalchat/globalchat/bandwidth"
	"github.com/prometheus/client_golang/prometheus"
)

// httpMetrics are the Prometheus figures of the HTTP routes.
type httpMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total", Help: "HTTP requests by route and status (the Socket.IO endpoint is counted by bandwidth_*).",
		}, []string{"route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "http_request_duration_seconds", Help: "HTTP request latency by route, until the handler returns.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.latency)
	}
	return m
}

// observe counts a route's traffic (body bytes, one frame per request and
// per response) on the meter, and its requests by status and latency.
func (m *httpMetrics) observe(meter *bandwidth.Meter, ep bandwidth.Endpoint, route string, next http.Handler) http.Handler {
	latency := m.latency.WithLabelValues(route)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		body := &countingBody{ReadCloser: r.Body}
		r.Body = body
		cw := &countingWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(cw, r)
		latency.Observe(time.Since(start).Seconds())
		m.requests.WithLabelValues(route, strconv.Itoa(cw.status)).Inc()
		meter.In(ep, 1, body.n)
		meter.Out(ep, 1, cw.n)
	})
}

type countingBody struct {
	io.ReadCloser
	n int
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += n
	return n, err
}

// countingWriter counts the body bytes written and keeps the status.
type countingWriter struct {
	http.ResponseWriter
	status      int
	n           int
	wroteHeader bool
}

func (w *countingWriter) WriteHeader(status int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = status, true
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.wroteHeader = true
	n, err := w.ResponseWriter.Write(p)
	w.n += n
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
