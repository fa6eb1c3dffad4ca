package app_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/app"
	"github.com/switchboard-hub/switchboard/internal/app/apptest"
	"github.com/switchboard-hub/switchboard/internal/redistest"
	"github.com/switchboard-hub/switchboard/services/webhook"
)

// BenchmarkPublishWithWebhooks measures one gRPC publish over loopback with
// no webhook endpoint, one that answers, and one that is dead (its retries
// must not slow publishing): on the memory engine, and under "redis/" on a
// Redis (skipped when none can be had).
func BenchmarkPublishWithWebhooks(b *testing.B) {
	live := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer live.Close()
	cases := []struct {
		name string
		eps  map[string]webhook.Endpoint
	}{
		{"none", nil},
		{"live", map[string]webhook.Endpoint{"live": {URL: live.URL}}},
		{"dead", map[string]webhook.Endpoint{"dead": {URL: "http://127.0.0.1:1/"}}},
	}
	run := func(b *testing.B, eps map[string]webhook.Endpoint, engine func(testing.TB) app.Engine) {
		srv := apptest.Start(b, func(cfg *app.Config) {
			cfg.WebhookOptions = eps
			cfg.Webhooks = app.Webhooks{Store: filepath.Join(b.TempDir(), "q.db"), BaseDelay: app.Duration(10 * time.Millisecond), QueueMax: 1 << 30}
			if engine != nil {
				cfg.Engine = engine(b)
			}
		})
		req := &pb.PublishRequest{Event: &pb.Event{Channel: "bench", Data: `{"n":1}`}}
		sum0, n0 := acceptSeconds(b)
		b.ResetTimer()
		for range b.N {
			if _, err := srv.Hub.Publish(context.Background(), req); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		// The part of each publish spent in the webhook queues.
		if sum, n := acceptSeconds(b); n > n0 {
			b.ReportMetric((sum-sum0)/float64(n-n0)*1e9, "accept-ns/op")
		}
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) { run(b, c.eps, nil) })
	}
	for _, c := range cases {
		b.Run("redis/"+c.name, func(b *testing.B) {
			run(b, c.eps, func(t testing.TB) app.Engine {
				addr := redistest.Addr(t)
				return app.Engine{Type: "redis", Address: addr, Prefix: redistest.Prefix(t, addr)}
			})
		})
	}
}

// acceptSeconds reads switchboard_webhook_accept_seconds: its sum and count.
func acceptSeconds(b *testing.B) (sum float64, n uint64) {
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "switchboard_webhook_accept_seconds" {
			h := mf.GetMetric()[0].GetHistogram()
			return h.GetSampleSum(), h.GetSampleCount()
		}
	}
	return 0, 0
}
