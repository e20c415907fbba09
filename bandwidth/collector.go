package bandwidth

import "github.com/prometheus/client_golang/prometheus"

var (
	descBytes = prometheus.NewDesc("bandwidth_bytes_total",
		"Bytes by endpoint and direction: Engine.IO payloads (WebSocket message payloads, polling bodies) on websocket and polling, body bytes on the HTTP routes.",
		[]string{"endpoint", "direction"}, nil)
	descFrames = prometheus.NewDesc("bandwidth_frames_total",
		"Frames by endpoint and direction: Engine.IO packets on websocket and polling, requests (in) and responses (out) on the HTTP routes.",
		[]string{"endpoint", "direction"}, nil)
	descMessages = prometheus.NewDesc("bandwidth_messages_total",
		"Chat messages: received from clients (in), delivered to sockets (out).", []string{"direction"}, nil)
	descConns = prometheus.NewDesc("bandwidth_connections_total",
		"Engine.IO connections opened and closed.", []string{"event"}, nil)
	descDelivery = prometheus.NewDesc("broadcast_delivery_seconds",
		"Broadcast delivery latency: from its emission on (or arrival at) this instance to the end of its write to a client, per client.",
		nil, nil)
)

// Describe implements prometheus.Collector.
func (m *Meter) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descBytes, descFrames, descMessages, descConns, descDelivery} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: it reads the counters at
// scrape time, so the hot path pays nothing for Prometheus.
func (m *Meter) Collect(ch chan<- prometheus.Metric) {
	t := m.Totals()
	c := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for i, e := range t.Endpoints {
		name := Endpoint(i).String()
		c(descBytes, e.BytesIn, name, "in")
		c(descBytes, e.BytesOut, name, "out")
		c(descFrames, e.FramesIn, name, "in")
		c(descFrames, e.FramesOut, name, "out")
	}
	c(descMessages, t.MessagesIn, "in")
	c(descMessages, t.MessagesOut, "out")
	c(descConns, t.ConnsOpened, "opened")
	c(descConns, t.ConnsClosed, "closed")
	cumulative := make(map[float64]uint64, len(latencyBounds))
	var n uint64
	for i, b := range latencyBounds {
		n += t.Delivery.Buckets[i]
		cumulative[b] = n
	}
	ch <- prometheus.MustNewConstHistogram(descDelivery, t.Delivery.Count(), t.Delivery.Sum.Seconds(), cumulative)
}
