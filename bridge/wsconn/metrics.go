package wsconn

import (
	"sync"
	"sync/atomic"

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
	framesReceivedTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_bridge_frames_received_total",
		Help: "Messages read from websocket clients, per face.",
	}, []string{"face"})
	bytesReceivedTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_bridge_received_bytes_total",
		Help: "Message bytes read from websocket clients, per face.",
	}, []string{"face"})
	bytesSentTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_bridge_sent_bytes_total",
		Help: "Message bytes written to websocket clients, per face.",
	}, []string{"face"})
	slowConsumersTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_bridge_slow_consumers_total",
		Help: "Websockets closed because their outbound queue overflowed, per face.",
	}, []string{"face"})
)

// faceMetrics holds the metric children of one face, resolved once so that
// the per-frame path does not hash label values.
type faceMetrics struct {
	connections    prometheus.Gauge
	framesSent     prometheus.Counter
	framesReceived prometheus.Counter
	bytesReceived  prometheus.Counter
	bytesSent      prometheus.Counter
	slow           prometheus.Counter
}

// Totals over every face, for the node stats of the process (Totals).
var totalFramesIn, totalBytesIn, totalBytesOut atomic.Uint64

// Totals returns, over every face of the process since it started, the
// messages and message bytes read from websocket clients and the message
// bytes written to them.
func Totals() (framesIn, bytesIn, bytesOut uint64) {
	return totalFramesIn.Load(), totalBytesIn.Load(), totalBytesOut.Load()
}

func (m *faceMetrics) received(n int) {
	m.framesReceived.Inc()
	m.bytesReceived.Add(float64(n))
	totalFramesIn.Add(1)
	totalBytesIn.Add(uint64(n))
}

func (m *faceMetrics) sent(n int) {
	m.bytesSent.Add(float64(n))
	totalBytesOut.Add(uint64(n))
}

var faceMetricsCache sync.Map // face name -> *faceMetrics

func metricsFor(face string) *faceMetrics {
	if m, ok := faceMetricsCache.Load(face); ok {
		return m.(*faceMetrics)
	}
	m := &faceMetrics{
		connections:    connectionsGauge.WithLabelValues(face),
		framesSent:     framesSentTotal.WithLabelValues(face),
		framesReceived: framesReceivedTotal.WithLabelValues(face),
		bytesReceived:  bytesReceivedTotal.WithLabelValues(face),
		bytesSent:      bytesSentTotal.WithLabelValues(face),
		slow:           slowConsumersTotal.WithLabelValues(face),
	}
	actual, _ := faceMetricsCache.LoadOrStore(face, m)
	return actual.(*faceMetrics)
}
