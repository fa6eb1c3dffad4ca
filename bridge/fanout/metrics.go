package fanout

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	upstreamStreams = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "switchboard_bridge_upstream_streams",
		Help: "Upstream Subscribe streams shared by local sinks, per face.",
	}, []string{"face"})
	eventsDelivered = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_bridge_events_delivered_total",
		Help: "Events handed to local sinks (one per event per sink), per face.",
	}, []string{"face"})
)

// faceMetrics are the metric children of one face, resolved once per face.
type faceMetrics struct {
	streams   prometheus.Gauge
	delivered prometheus.Counter
}

var faceMetricsCache sync.Map // face -> *faceMetrics

func metricsFor(face string) *faceMetrics {
	if m, ok := faceMetricsCache.Load(face); ok {
		return m.(*faceMetrics)
	}
	m := &faceMetrics{
		streams:   upstreamStreams.WithLabelValues(face),
		delivered: eventsDelivered.WithLabelValues(face),
	}
	actual, _ := faceMetricsCache.LoadOrStore(face, m)
	return actual.(*faceMetrics)
}
