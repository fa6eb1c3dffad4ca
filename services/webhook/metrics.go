package webhook

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	queuedTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_webhook_queued_total",
		Help: "Events queued for a webhook endpoint by this node.",
	}, []string{"endpoint"})
	deliveredTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_webhook_delivered_total",
		Help: "Events a webhook endpoint accepted (2xx).",
	}, []string{"endpoint"})
	retriedTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_webhook_retried_total",
		Help: "Failed delivery attempts that were retried.",
	}, []string{"endpoint"})
	deadLetteredTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_webhook_dead_lettered_total",
		Help: "Events given up on: attempts exhausted, or dropped from a full queue.",
	}, []string{"endpoint", "reason"})
	deliverySeconds = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "switchboard_webhook_delivery_seconds",
		Help:    "Time from the first attempt to the endpoint's 2xx answer.",
		Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
	}, []string{"endpoint"})
	acceptSeconds = promauto.NewHistogram(prometheus.HistogramOpts{
		Name:    "switchboard_webhook_accept_seconds",
		Help:    "Time a publish spent having its event accepted into the webhook queues (the part of its latency webhooks add).",
		Buckets: prometheus.ExponentialBuckets(0.000002, 4, 10),
	})
)
