package fanout_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/switchboard-hub/switchboard/bridge/fanout"
	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/inproc"
	"github.com/switchboard-hub/switchboard/services/auth"
	"github.com/switchboard-hub/switchboard/services/engine/memory"
	"github.com/switchboard-hub/switchboard/services/hub"
)

// noMuxClient hides SubscribeMux, as an older core would: the Fanout then
// holds one Subscribe stream per group.
type noMuxClient struct{ pb.HubServiceClient }

func (noMuxClient) SubscribeMux(context.Context, *pb.SubscribeMuxRequest, ...grpc.CallOption) (grpc.ServerStreamingClient[pb.SubscribeMuxResponse], error) {
	return nil, status.Error(codes.Unimplemented, "no mux")
}

// inprocCore runs a hub on a memory engine and returns an in-process
// client with an api key, as the switchboard binary wires its faces.
func inprocCore(b *testing.B) pb.HubServiceClient {
	b.Helper()
	eng := memory.New(memory.Options{})
	h := hub.New(hub.Options{Engine: eng, QueueSize: 1 << 16})
	ac := auth.Config{APIKeys: []string{"k"}}
	conn := inproc.New(nil, metadata.Pairs("authorization", "apikey k"),
		[]grpc.UnaryServerInterceptor{ac.UnaryInterceptor()}, []grpc.StreamServerInterceptor{ac.StreamInterceptor()})
	pb.RegisterHubServiceServer(conn, h.HubService())
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = h.Run(ctx) })
	b.Cleanup(func() {
		h.Shutdown()
		conn.Close()
		cancel()
		wg.Wait()
		_ = eng.Close()
	})
	return pb.NewHubServiceClient(conn)
}

// processCPU is the CPU time (user+system) this process used so far, in
// nanoseconds: on a shared machine a steadier figure than wall time.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// countdown counts deliveries and closes done at the target.
type countdown struct {
	left atomic.Int64
	done chan struct{}
}

func (c *countdown) Deliver(*pb.Event, []byte) {
	if c.left.Add(-1) == 0 {
		close(c.done)
	}
}
func (c *countdown) UpstreamClosed(error) {}

// BenchmarkChannels: publications spread over C channels with one sink
// each, from 8 publishers, through a real hub in process; per delivery,
// with the groups on one multiplexed stream (mux) and with a stream each
// (streams, as before SubscribeMux).
//
//	go test -run XXX -bench Channels -benchmem ./bridge/fanout/
func BenchmarkChannels(b *testing.B) {
	for _, mode := range []string{"mux", "streams"} {
		for _, channels := range []int{1000, 5000} {
			b.Run(fmt.Sprintf("%s/channels=%d", mode, channels), func(b *testing.B) {
				var client pb.HubServiceClient = inprocCore(b)
				pub := client
				if mode == "streams" {
					client = noMuxClient{client}
				}
				f := fanout.New(client, fanout.Options{})
				sink := &countdown{done: make(chan struct{})}
				sink.left.Store(int64(b.N))
				ctx := context.Background()
				for i := range channels {
					ch := fmt.Sprintf("c%d", i)
					cancel, err := f.Subscribe(ctx, "bench", ch, subReq(ch), jsonEncoder, sink)
					if err != nil {
						b.Fatal(err)
					}
					defer cancel()
				}
				const publishers = 8
				var next atomic.Int64
				b.ReportAllocs()
				cpu0 := processCPU()
				b.ResetTimer()
				var wg sync.WaitGroup
				for range publishers {
					wg.Go(func() {
						for {
							n := next.Add(1) - 1
							if n >= int64(b.N) {
								return
							}
							ev := &pb.Event{Channel: fmt.Sprintf("c%d", n%int64(channels)), Data: `{"n":1}`}
							if _, err := pub.Publish(ctx, &pb.PublishRequest{Event: ev}); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				<-sink.done
				b.StopTimer()
				b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}
