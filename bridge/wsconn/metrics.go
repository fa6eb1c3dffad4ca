package wsconn

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Metrics live in the default registry so that the app's /metrics shows them
// without any wiring.
var (
	connectionsGauge = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "switchboard_bridge_connections",
		Help: "Websocket connections currently open, per face.",
	}, []string{"face"})
	framesSentTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_bridge_frames_sent_total",
		Help: "Frames written to websockets, per face.",
	}, []string{"face"})
	slowConsumersTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_bridge_slow_consumers_total",
		Help: "Websockets closed because their outbound queue overflowed, per face.",
	}, []string{"face"})
)

// faceMetrics holds the metric children of one face, resolved once so that
// the per-frame path does not hash label values.
type faceMetrics struct {
	connections prometheus.Gauge
	framesSent  prometheus.Counter
	slow        prometheus.Counter
}

var faceMetricsCache sync.Map // face name -> *faceMetrics

func metricsFor(face string) *faceMetrics {
	if m, ok := faceMetricsCache.Load(face); ok {
		return m.(*faceMetrics)
	}
	m := &faceMetrics{
		connections: connectionsGauge.WithLabelValues(face),
		framesSent:  framesSentTotal.WithLabelValues(face),
		slow:        slowConsumersTotal.WithLabelValues(face),
	}
	actual, _ := faceMetricsCache.LoadOrStore(face, m)
	return actual.(*faceMetrics)
}
