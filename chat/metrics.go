package chat

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	messages        *prometheus.CounterVec
	refusedConnects prometheus.Counter
	addressLimited  *prometheus.CounterVec
	expired         prometheus.Counter
	storeLatency    *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chat_messages_total", Help: "chat:message events by result: accepted, rate_limited, invalid_message, unavailable, internal.",
		}, []string{"result"}),
		refusedConnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chat_refused_connections_total", Help: "Connections refused by authentication.",
		}),
		addressLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chat_address_limited_total", Help: "Messages and connections refused by a per-address limit, by what was limited.",
		}, []string{"what"}),
		expired: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chat_expired_connections_total", Help: "Connections closed because their token expired.",
		}),
		storeLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "chat_store_seconds", Help: "Message store latency by operation.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"op"}),
	}
	if reg != nil {
		reg.MustRegister(m.messages, m.refusedConnects, m.addressLimited, m.expired, m.storeLatency)
	}
	return m
}
