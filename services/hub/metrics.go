package hub

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	publishedTotal = promauto.NewCounter(prometheus.CounterOpts{
		Name: "switchboard_hub_published_events_total",
		Help: "Events published through this node.",
	})
	deliveredTotal = promauto.NewCounter(prometheus.CounterOpts{
		Name: "switchboard_hub_delivered_events_total",
		Help: "Events queued to subscription streams on this node (one per stream).",
	})
	slowConsumersTotal = promauto.NewCounter(prometheus.CounterOpts{
		Name: "switchboard_hub_slow_consumers_total",
		Help: "Subscription streams ended because their queue filled.",
	})
	streamsGauge = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "switchboard_hub_subscriptions",
		Help: "Subscription streams open on this node.",
	})
	sessionsGauge = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "switchboard_hub_sessions",
		Help: "Sessions registered on this node.",
	})
	droppedOrdersTotal = promauto.NewCounter(prometheus.CounterOpts{
		Name: "switchboard_hub_dropped_control_orders_total",
		Help: "Control orders dropped because the session's edge had no open or no free Control stream.",
	})
)
