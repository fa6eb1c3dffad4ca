package memory_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/services/engine"
	"github.com/switchboard-hub/switchboard/services/engine/memory"
)

// nopHandler drops what it is given, so a benchmark measures the engine.
type nopHandler struct{}

func (nopHandler) HandleEvent(*pb.Event)         {}
func (nopHandler) HandleControl(*engine.Control) {}
func (nopHandler) HandleGap(*engine.Gap)         {}

func run(b *testing.B, e *memory.Engine) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Run(ctx, nopHandler{}); close(done) }()
	b.Cleanup(func() { cancel(); <-done; e.Close() })
}

// BenchmarkPublish publishes on one channel that keeps history (size 100)
// and that this node subscribes to.
func BenchmarkPublish(b *testing.B) {
	e := memory.New(memory.Options{})
	run(b, e)
	ctx := context.Background()
	if err := e.Subscribe(ctx, "t", "c"); err != nil {
		b.Fatal(err)
	}
	opts := engine.HistoryOptions{Size: 100, TTL: time.Minute}
	b.ReportAllocs()
	for b.Loop() {
		ev := &pb.Event{Tenant: "t", Channel: "c", Data: `{"n":1}`}
		if _, err := e.Publish(ctx, ev, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPublishParallel publishes from every CPU over 1000 channels.
func BenchmarkPublishParallel(b *testing.B) {
	e := memory.New(memory.Options{})
	run(b, e)
	ctx := context.Background()
	if err := e.Subscribe(ctx, "t", engine.AllChannels); err != nil {
		b.Fatal(err)
	}
	channels := make([]string, 1000)
	for i := range channels {
		channels[i] = fmt.Sprintf("c%d", i)
	}
	opts := engine.HistoryOptions{Size: 100, TTL: time.Minute}
	b.ReportAllocs()
	b.RunParallel(func(pb_ *testing.PB) {
		i := 0
		for pb_.Next() {
			ev := &pb.Event{Tenant: "t", Channel: channels[i%len(channels)], Data: `{"n":1}`}
			if _, err := e.Publish(ctx, ev, opts); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// BenchmarkHistory reads the newest 10 of 100 kept events.
func BenchmarkHistory(b *testing.B) {
	e := memory.New(memory.Options{})
	b.Cleanup(func() { e.Close() })
	ctx := context.Background()
	opts := engine.HistoryOptions{Size: 100, TTL: time.Minute}
	for i := 0; i < 100; i++ {
		if _, err := e.Publish(ctx, &pb.Event{Tenant: "t", Channel: "c", Data: "1"}, opts); err != nil {
			b.Fatal(err)
		}
	}
	q := engine.HistoryQuery{Limit: 10, Reverse: true}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := e.History(ctx, "t", "c", q); err != nil {
			b.Fatal(err)
		}
	}
}
