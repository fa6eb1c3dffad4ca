package redis_test

import (
	"context"
	"testing"
	"time"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/services/engine"
	"github.com/switchboard-hub/switchboard/services/engine/redis"
)

// BenchmarkPublish publishes on one channel that keeps history (size 100)
// and that the node subscribes to: one script call and one pub/sub
// delivery per event.
func BenchmarkPublish(b *testing.B) {
	e := newEngine(b, testPrefix(b), redis.Options{})
	ctx := context.Background()
	if err := e.Subscribe(ctx, "t", "c"); err != nil {
		b.Fatal(err)
	}
	opts := engine.HistoryOptions{Size: 100, TTL: time.Minute}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Publish(ctx, &pb.Event{Tenant: "t", Channel: "c", Data: `{"n":1}`}, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPublishParallel publishes from many goroutines, which rueidis
// pipelines over its shared connection.
func BenchmarkPublishParallel(b *testing.B) {
	e := newEngine(b, testPrefix(b), redis.Options{})
	ctx := context.Background()
	opts := engine.HistoryOptions{Size: 100, TTL: time.Minute}
	b.SetParallelism(16)
	b.ReportAllocs()
	b.RunParallel(func(p *testing.PB) {
		for p.Next() {
			if _, err := e.Publish(ctx, &pb.Event{Tenant: "t", Channel: "c", Data: `{"n":1}`}, opts); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
