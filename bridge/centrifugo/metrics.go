package centrifugo

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// apiRequestsTotal counts the API requests the face executed: each signed
// HTTP request (one batch) and each command list taken from the Redis
// queue. v1 reported it as num_api_requests.
var apiRequestsTotal = promauto.NewCounter(prometheus.CounterOpts{
	Name: "switchboard_bridge_api_requests_total",
	Help: "Centrifugo v1 API requests executed (HTTP requests and Redis queue items).",
})

var apiRequests atomic.Uint64

func countRequest() {
	apiRequestsTotal.Inc()
	apiRequests.Add(1)
}

// APIRequests is how many API requests the face has executed in this
// process (every Handler together).
func APIRequests() uint64 { return apiRequests.Load() }
