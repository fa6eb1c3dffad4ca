package fanout_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/coder/websocket"
	"go.uber.org/goleak"
	"google.golang.org/grpc"

	"github.com/switchboard-hub/switchboard/bridge/fanout"
	"github.com/switchboard-hub/switchboard/bridge/wsconn"
	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/app/apptest"
)

// countingClient counts the upstream calls of a Fanout to a real core.
type countingClient struct {
	pb.HubServiceClient
	streams, muxes, adds, removes atomic.Int64
}

func (c *countingClient) Subscribe(ctx context.Context, in *pb.SubscribeRequest, opts ...grpc.CallOption) (grpc.ServerStreamingClient[pb.SubscribeResponse], error) {
	c.streams.Add(1)
	return c.HubServiceClient.Subscribe(ctx, in, opts...)
}

func (c *countingClient) SubscribeMux(ctx context.Context, in *pb.SubscribeMuxRequest, opts ...grpc.CallOption) (grpc.ServerStreamingClient[pb.SubscribeMuxResponse], error) {
	c.muxes.Add(1)
	return c.HubServiceClient.SubscribeMux(ctx, in, opts...)
}

func (c *countingClient) MuxAdd(ctx context.Context, in *pb.MuxAddRequest, opts ...grpc.CallOption) (*pb.MuxAddResponse, error) {
	c.adds.Add(1)
	return c.HubServiceClient.MuxAdd(ctx, in, opts...)
}

func (c *countingClient) MuxRemove(ctx context.Context, in *pb.MuxRemoveRequest, opts ...grpc.CallOption) (*pb.MuxRemoveResponse, error) {
	c.removes.Add(1)
	return c.HubServiceClient.MuxRemove(ctx, in, opts...)
}

// noLeaks fails the test when a goroutine started during it outlives its
// cleanups (registered first, it runs last).
func noLeaks(t *testing.T) {
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
}

// TestMuxGroupsShareOneStream: groups of different channels are
// subscriptions of one upstream stream; each sink gets the events of its
// own channel only, each encoded once per group; a group left gets nothing
// more, and the stream closes with the last group.
func TestMuxGroupsShareOneStream(t *testing.T) {
	noLeaks(t)
	srv := apptest.Start(t, nil)
	ctx := ctxTimeout(t)
	client := &countingClient{HubServiceClient: srv.Hub}
	f := fanout.New(client, fanout.Options{})
	enc := &countingEncoder{}

	const groups = 20
	sinks := make([][2]*recSink, groups)
	cancels := make([][2]func(), groups)
	for i := range groups {
		for j := range 2 {
			sinks[i][j] = newRecSink()
			cancels[i][j] = subscribe(t, f, "mux", fmt.Sprint(i), enc.encode, sinks[i][j])
		}
	}
	if n := client.muxes.Load(); n != 1 {
		t.Fatalf("%d multiplexed streams, want 1", n)
	}
	if n, m := client.adds.Load(), client.streams.Load(); n != groups || m != 0 {
		t.Fatalf("%d subscriptions added and %d streams, want %d and 0", n, m, groups)
	}

	publishTo := func(ch string, data string) string {
		t.Helper()
		r, err := srv.Hub.Publish(ctx, &pb.PublishRequest{Event: &pb.Event{Channel: ch, Data: data}})
		if err != nil {
			t.Fatal(err)
		}
		return r.GetId()
	}
	for round := range 2 {
		for i := range groups {
			id := publishTo(fmt.Sprint(i), strconv.Itoa(round))
			for _, s := range sinks[i] {
				if ev, frame := s.next(t); ev.GetId() != id || string(frame) != "frame:"+id {
					t.Fatalf("group %d round %d: %v %q", i, round, ev, frame)
				}
			}
		}
	}
	// Every sink got its two events, and nothing else (each sink's later
	// event is the barrier for the earlier ones; the demultiplexer delivers
	// in stream order).
	for i := range groups {
		for _, s := range sinks[i] {
			s.expectNothing(t)
		}
	}
	if n := enc.calls.Load(); n != 2*groups {
		t.Fatalf("encoder called %d times, want %d", n, 2*groups)
	}

	// Group 0 leaves; a later event on group 1 is the barrier.
	cancels[0][0]()
	cancels[0][1]()
	publishTo("0", `"after"`)
	id := publishTo("1", `"barrier"`)
	if ev, _ := sinks[1][0].next(t); ev.GetId() != id {
		t.Fatalf("barrier: %v", ev)
	}
	for _, s := range sinks[0] {
		s.expectNothing(t)
	}

	for i := 1; i < groups; i++ {
		cancels[i][0]()
		cancels[i][1]()
	}
	// A new group after the stream closed opens a new one.
	s := newRecSink()
	cancel := subscribe(t, f, "mux", "again", enc.encode, s)
	id = publishTo("again", `1`)
	if ev, _ := s.next(t); ev.GetId() != id {
		t.Fatalf("after reopening: %v", ev)
	}
	cancel()
	if n := client.muxes.Load(); n != 2 {
		t.Fatalf("%d multiplexed streams, want 2", n)
	}
}

// TestMuxSlowSocketDoesNotHoldBackOthers: on the real core's multiplexed
// stream, a socket that stops reading is cut off by its own queue; a socket
// of the same group and one of another group receive every event, in order,
// before and after.
func TestMuxSlowSocketDoesNotHoldBackOthers(t *testing.T) {
	noLeaks(t)
	srv := apptest.Start(t, nil)
	ctx := ctxTimeout(t)
	f := fanout.New(srv.Hub, fanout.Options{})
	enc := func(ev *pb.Event) ([]byte, error) {
		return []byte(ev.GetChannel() + " " + ev.GetId() + " " + ev.GetData()), nil
	}
	face := startSocketFace(t, f, enc, func(r *http.Request) int {
		if strings.HasPrefix(r.URL.Path, "/slow") {
			return 4
		}
		return 0
	})
	slowClient, slow := face.dial(t, "/slow/k")
	fastClient, _ := face.dial(t, "/fast/k")
	otherClient, _ := face.dial(t, "/other/o")

	pad := `"` + strings.Repeat("x", 32<<10) + `"` // big frames fill kernel buffers fast
	publishTo := func(ch string) string {
		t.Helper()
		r, err := srv.Hub.Publish(ctx, &pb.PublishRequest{Event: &pb.Event{Channel: ch, Data: pad}})
		if err != nil {
			t.Fatal(err)
		}
		return r.GetId()
	}
	read := func(cc *websocket.Conn, ch, id string) {
		t.Helper()
		_, b, err := cc.Read(ctx)
		if err != nil {
			t.Fatalf("read %s %s: %v", ch, id, err)
		}
		if got := strings.SplitN(string(b), " ", 3); got[0] != ch || got[1] != id {
			t.Fatalf("frame %s %s, want %s %s", got[0], got[1], ch, id)
		}
	}

	const maxEvents = 5000
	cut := false
	for i := 0; i < maxEvents && !cut; i++ {
		id := publishTo("k")
		read(fastClient, "k", id)
		id = publishTo("o")
		read(otherClient, "o", id)
		select {
		case <-slow.refused:
			cut = true
		default:
		}
	}
	if !cut {
		t.Fatalf("slow socket never cut off after %d events", maxEvents)
	}
	for range 10 {
		read(fastClient, "k", publishTo("k"))
		read(otherClient, "o", publishTo("o"))
	}
	var err error
	for err == nil {
		_, _, err = slowClient.Read(ctx)
	}
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusPolicyViolation || ce.Reason != wsconn.ReasonSlowConsumer {
		t.Fatalf("slow client ended with %v", err)
	}
}
