package app_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/app"
	"github.com/switchboard-hub/switchboard/internal/app/apptest"
	"github.com/switchboard-hub/switchboard/services/webhook"
)

// BenchmarkPublishWithWebhooks measures one gRPC publish over loopback with
// no webhook endpoint, one that answers, and one that is dead (its retries
// must not slow publishing).
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
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			srv := apptest.Start(b, func(cfg *app.Config) {
				cfg.WebhookOptions = c.eps
				cfg.Webhooks = app.Webhooks{Store: filepath.Join(b.TempDir(), "q.db"), BaseDelay: app.Duration(10 * time.Millisecond), QueueMax: 1 << 30}
			})
			req := &pb.PublishRequest{Event: &pb.Event{Channel: "bench", Data: `{"n":1}`}}
			b.ResetTimer()
			for range b.N {
				if _, err := srv.Hub.Publish(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
