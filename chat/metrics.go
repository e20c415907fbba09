package chat

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	messages        *prometheus.CounterVec
	refusedConnects prometheus.Counter
	addressLimited  *prometheus.CounterVec
	expired         prometheus.Counter
	storeLatency    *prometheus.HistogramVec
	returns         prometheus.Counter
	reg             prometheus.Registerer
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
		returns: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chat_presence_returns_total", Help: "Dropped connections that came back within PRESENCE_LEAVE_GRACE: a user:left and a user:joined nobody was sent.",
		}),
		reg: reg,
	}
	if reg != nil {
		reg.MustRegister(m.messages, m.refusedConnects, m.addressLimited, m.expired, m.storeLatency, m.returns)
	}
	return m
}

// pendingLeaves exports the number of dropped connections waiting out
// their leave grace.
func (m *metrics) pendingLeaves(n func() int) {
	if m.reg == nil {
		return
	}
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "chat_presence_pending_leaves", Help: "Dropped connections still in presence, waiting out PRESENCE_LEAVE_GRACE.",
	}, func() float64 { return float64(n()) }))
}
