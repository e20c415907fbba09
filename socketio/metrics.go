package socketio

import "github.com/prometheus/client_golang/prometheus"

// metrics are the server's Prometheus series.
type metrics struct {
	connections prometheus.Gauge
	sockets     prometheus.Gauge
	disconnects *prometheus.CounterVec
	received    prometheus.Counter
	broadcasts  prometheus.Counter
	recoveries  *prometheus.CounterVec
	refusals    *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		connections: prometheus.NewGauge(prometheus.GaugeOpts{Name: "socketio_connections", Help: "Open Engine.IO connections."}),
		sockets:     prometheus.NewGauge(prometheus.GaugeOpts{Name: "socketio_sockets", Help: "Sockets connected to a namespace."}),
		disconnects: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "socketio_disconnects_total", Help: "Closed sockets by reason (\"slow client\": its outbound queue overflowed)."}, []string{"reason"}),
		received:    prometheus.NewCounter(prometheus.CounterOpts{Name: "socketio_packets_received_total", Help: "Socket.IO packets received."}),
		broadcasts:  prometheus.NewCounter(prometheus.CounterOpts{Name: "socketio_broadcasts_total", Help: "Broadcasts sent from this instance."}),
		recoveries:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "socketio_recoveries_total", Help: "Connection state recovery attempts by result."}, []string{"result"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "socketio_refusals_total",
			Help: "Clients refused or cut off for speaking what the server does not, by reason (\"unsupported protocol version\": Engine.IO 3, socket.io-client 2.x; \"unsupported parser\": msgpack; \"message too big\"; \"invalid control frame\")."}, []string{"reason"}),
	}
	if reg != nil {
		reg.MustRegister(m.connections, m.sockets, m.disconnects, m.received, m.broadcasts, m.recoveries, m.refusals)
	}
	return m
}
