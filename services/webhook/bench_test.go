package webhook_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/services/webhook"
)

// BenchmarkDelivery measures deliveries per second to a local endpoint:
// b.N events accepted, then delivered one at a time in order.
func BenchmarkDelivery(b *testing.B) {
	var got atomic.Int64
	done := make(chan struct{})
	total := int64(b.N) + 1 // and the HELLO
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got.Add(1) == total {
			close(done)
		}
	}))
	defer srv.Close()
	store := openStore(b, filepath.Join(b.TempDir(), "q.db"))
	s, err := webhook.New(webhook.Config{Store: store, Encoding: testEncoding{}, Node: "n",
		Endpoints: map[string]webhook.Endpoint{"e": {URL: srv.URL}}, QueueMax: b.N + 10})
	if err != nil {
		b.Fatal(err)
	}
	ev := &pb.Event{Channel: "c", Code: 4100, Data: `{"n":1}`}
	b.ResetTimer()
	if err := s.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer s.Stop()
	for range b.N {
		if err := s.Accept(context.Background(), ev); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("delivered %d of %d", got.Load(), total)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
}

// BenchmarkAccept measures the cost a publish pays to queue an event for
// one endpoint (concurrent publishers share writes).
func BenchmarkAccept(b *testing.B) {
	store := openStore(b, filepath.Join(b.TempDir(), "q.db"))
	s, err := webhook.New(webhook.Config{Store: store, Encoding: testEncoding{}, Node: "n", Poll: time.Hour,
		// Nothing listens there: every attempt fails, slowly retried.
		Endpoints: map[string]webhook.Endpoint{"dead": {URL: "http://127.0.0.1:1/"}}, BaseDelay: time.Hour, QueueMax: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer s.Stop()
	ev := &pb.Event{Channel: "c", Code: 4100, Data: `{"n":1}`}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.Accept(context.Background(), ev); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
