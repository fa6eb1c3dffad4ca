package fanout_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/coder/websocket"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/switchboard-hub/switchboard/bridge/fanout"
	"github.com/switchboard-hub/switchboard/bridge/wsconn"
	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// memHub is an in-process HubServiceClient whose one Subscribe stream is
// fed from a channel, so benchmarks measure fan-out and not gRPC.
type memHub struct {
	pb.HubServiceClient // only Subscribe is used
	events              chan *pb.SubscribeResponse
}

// SubscribeMux is refused as by a core without it: the groups hold a
// Subscribe stream each, fed from events.
func (h *memHub) SubscribeMux(context.Context, *pb.SubscribeMuxRequest, ...grpc.CallOption) (grpc.ServerStreamingClient[pb.SubscribeMuxResponse], error) {
	return nil, status.Error(codes.Unimplemented, "memHub: no mux")
}

func (h *memHub) Subscribe(ctx context.Context, _ *pb.SubscribeRequest, _ ...grpc.CallOption) (grpc.ServerStreamingClient[pb.SubscribeResponse], error) {
	return &memStream{ctx: ctx, events: h.events}, nil
}

type memStream struct {
	grpc.ClientStream // only Recv is used
	ctx               context.Context
	events            chan *pb.SubscribeResponse
	confirmed         bool
}

func (s *memStream) Recv() (*pb.SubscribeResponse, error) {
	if !s.confirmed {
		s.confirmed = true
		return &pb.SubscribeResponse{Payload: &pb.SubscribeResponse_Subscribed{Subscribed: &pb.Subscribed{}}}, nil
	}
	select {
	case m := <-s.events:
		return m, nil
	case <-s.ctx.Done():
		return nil, s.ctx.Err()
	}
}

// countSink counts deliveries; only the group goroutine calls it.
type countSink struct{ n int }

func (s *countSink) Deliver(*pb.Event, []byte) { s.n++ }
func (s *countSink) UpstreamClosed(error)      {}

// doneSink signals each delivery; it is the last sink of the group, so a
// signal means every sink has the event.
type doneSink struct{ done chan struct{} }

func (s *doneSink) Deliver(*pb.Event, []byte) { s.done <- struct{}{} }
func (s *doneSink) UpstreamClosed(error)      {}

func jsonEncoder(ev *pb.Event) ([]byte, error) {
	return fmt.Appendf(nil, `{"channel":%q,"data":%s}`, ev.GetChannel(), ev.GetData()), nil
}

// BenchmarkFanoutDeliver: one event, encoded once, handed to N sinks.
//
//	go test -run XXX -bench FanoutDeliver -benchmem ./bridge/fanout/
func BenchmarkFanoutDeliver(b *testing.B) {
	for _, n := range []int{1, 100, 10000} {
		b.Run(fmt.Sprintf("sinks=%d", n), func(b *testing.B) {
			hub := &memHub{events: make(chan *pb.SubscribeResponse)}
			f := fanout.New(hub, fanout.Options{})
			ctx := context.Background()
			req := subReq("bench")
			for range n - 1 {
				cancel, err := f.Subscribe(ctx, "bench", "k", req, jsonEncoder, &countSink{})
				if err != nil {
					b.Fatal(err)
				}
				defer cancel()
			}
			last := &doneSink{done: make(chan struct{})}
			cancel, err := f.Subscribe(ctx, "bench", "k", req, jsonEncoder, last)
			if err != nil {
				b.Fatal(err)
			}
			defer cancel()

			msg := &pb.SubscribeResponse{Payload: &pb.SubscribeResponse_Event{Event: &pb.Event{Channel: "bench", Data: `{"n":1}`}}}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				hub.events <- msg
				<-last.done
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/sink")
		})
	}
}

// BenchmarkFanoutToSockets: one event to N real websockets on loopback,
// until every client has read it (clients run in this process too, so this
// is an upper bound on the server's cost).
func BenchmarkFanoutToSockets(b *testing.B) {
	const n = 1000
	hub := &memHub{events: make(chan *pb.SubscribeResponse)}
	f := fanout.New(hub, fanout.Options{})
	srv := httptest.NewServer(socketHandler(f))
	b.Cleanup(srv.Close)
	url := "ws" + strings.TrimPrefix(srv.URL, "http")

	var got atomic.Int64
	round := make(chan struct{}, 1)
	var wg sync.WaitGroup
	for range n {
		cc, _, err := websocket.Dial(context.Background(), url, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer cc.CloseNow()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if _, _, err := cc.Read(context.Background()); err != nil {
					return
				}
				if got.Add(1)%n == 0 {
					round <- struct{}{}
				}
			}
		}()
	}
	waitSubscribed(b, n)

	msg := &pb.SubscribeResponse{Payload: &pb.SubscribeResponse_Event{Event: &pb.Event{Channel: "bench", Data: `{"n":1}`}}}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		hub.events <- msg
		<-round
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/socket")
}

var subscribedSockets atomic.Int64

// socketHandler is a minimal face: accept, join the group, read until the
// socket ends.
func socketHandler(f *fanout.Fanout) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsconn.Accept(w, r, wsconn.AcceptOptions{Face: "bench"})
		if err != nil {
			return
		}
		cancel, err := f.Subscribe(r.Context(), "bench", "k", subReq("bench"), jsonEncoder, connSink{c})
		if err != nil {
			c.CloseNow()
			return
		}
		defer cancel()
		subscribedSockets.Add(1)
		defer subscribedSockets.Add(-1)
		for {
			if _, err := c.Read(context.Background()); err != nil {
				return
			}
		}
	})
}

type connSink struct{ c *wsconn.Conn }

func (s connSink) Deliver(_ *pb.Event, frame []byte) { s.c.Send(frame) }
func (s connSink) UpstreamClosed(error)              { s.c.Close(websocket.StatusTryAgainLater, "upstream closed") }

func waitSubscribed(b *testing.B, n int64) {
	for subscribedSockets.Load() < n {
		runtime.Gosched()
	}
}

// BenchmarkIdleSocketMemory reports the heap and stack the server holds per
// idle websocket that is subscribed through the fan-out and parked in Read
// (B/conn). Clients are bare TCP connections that did the handshake by hand,
// so they add only a few hundred bytes each.
//
//	go test -run XXX -bench IdleSocketMemory -benchtime 3x ./bridge/fanout/
func BenchmarkIdleSocketMemory(b *testing.B) {
	const n = 2000
	hub := &memHub{events: make(chan *pb.SubscribeResponse)}
	f := fanout.New(hub, fanout.Options{})
	srv := httptest.NewServer(socketHandler(f))
	b.Cleanup(srv.Close)
	addr := strings.TrimPrefix(srv.URL, "http://")

	var perConn float64
	for range b.N {
		before := memInUse()
		conns := make([]net.Conn, 0, n)
		for range n {
			conns = append(conns, rawHandshake(b, addr))
		}
		waitSubscribed(b, n)
		after := memInUse()
		perConn += float64(after-before) / n
		for _, c := range conns {
			c.Close()
		}
		for subscribedSockets.Load() > 0 {
			runtime.Gosched()
		}
	}
	b.ReportMetric(perConn/float64(b.N), "B/conn")
}

func memInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse
}

// rawHandshake opens a websocket with a hand-written upgrade request and
// keeps only the TCP connection.
func rawHandshake(b *testing.B, addr string) net.Conn {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	_, err = c.Write([]byte("GET / HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
	if err != nil {
		b.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReaderSize(c, 512), nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		b.Fatalf("handshake: %v %v", resp, err)
	}
	return c
}
