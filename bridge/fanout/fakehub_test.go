package fanout_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

const waitTimeout = 15 * time.Second

// fakeHub is a HubService that serves Subscribe streams driven by the test:
// every stream is announced on opened, confirmed with `subscribed`, then
// sends whatever the test pushes until the test fails it or the client
// goes away.
type fakeHub struct {
	pb.UnimplementedHubServiceServer

	opened chan *fakeStream

	mu         sync.Mutex
	subscribes int
	refuse     error         // returned instead of a stream when set
	gate       chan struct{} // when set, `subscribed` waits for it to close
}

type fakeStream struct {
	req  *pb.SubscribeRequest
	out  chan *pb.SubscribeResponse
	fail chan error
	done chan struct{} // closed when the server handler has returned
}

func (s *fakeStream) publish(t *testing.T, ev *pb.Event) {
	t.Helper()
	s.send(t, &pb.SubscribeResponse{Payload: &pb.SubscribeResponse_Event{Event: ev}})
}

func (s *fakeStream) send(t *testing.T, m *pb.SubscribeResponse) {
	t.Helper()
	select {
	case s.out <- m:
	case <-s.done:
		t.Fatalf("publish on an ended stream")
	case <-time.After(waitTimeout):
		t.Fatalf("publish blocked")
	}
}

func (s *fakeStream) waitDone(t *testing.T) {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(waitTimeout):
		t.Fatalf("upstream stream still open")
	}
}

func (h *fakeHub) Subscribe(req *pb.SubscribeRequest, stream grpc.ServerStreamingServer[pb.SubscribeResponse]) error {
	h.mu.Lock()
	h.subscribes++
	refuse, gate := h.refuse, h.gate
	h.mu.Unlock()
	if refuse != nil {
		return refuse
	}
	ctx := stream.Context()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	fs := &fakeStream{
		req:  req,
		out:  make(chan *pb.SubscribeResponse, 64),
		fail: make(chan error, 1),
		done: make(chan struct{}),
	}
	defer close(fs.done)
	// Announced before `subscribed` so the test holds the stream by the time
	// the client's Subscribe returns.
	h.opened <- fs
	if err := stream.Send(&pb.SubscribeResponse{Payload: &pb.SubscribeResponse_Subscribed{Subscribed: &pb.Subscribed{SessionId: "s", Node: "fake"}}}); err != nil {
		return err
	}
	for {
		select {
		case m := <-fs.out:
			if err := stream.Send(m); err != nil {
				return err
			}
		case err := <-fs.fail:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (h *fakeHub) subscribeCalls() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.subscribes
}

// nextStream returns the next stream the fake opened.
func (h *fakeHub) nextStream(t *testing.T) *fakeStream {
	t.Helper()
	select {
	case s := <-h.opened:
		return s
	case <-time.After(waitTimeout):
		t.Fatalf("no upstream stream opened")
		return nil
	}
}

// startHub serves a fake hub on a loopback port and returns a client of it.
func startHub(t *testing.T) (*fakeHub, pb.HubServiceClient) {
	t.Helper()
	h := &fakeHub{opened: make(chan *fakeStream, 1024)}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	srv := grpc.NewServer()
	pb.RegisterHubServiceServer(srv, h)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return h, pb.NewHubServiceClient(conn)
}

// recSink records what a group hands it.
type recSink struct {
	events chan *pb.Event
	frames chan []byte
	closed chan error
}

func newRecSink() *recSink {
	return &recSink{
		events: make(chan *pb.Event, 256),
		frames: make(chan []byte, 256),
		closed: make(chan error, 1),
	}
}

func (s *recSink) Deliver(ev *pb.Event, frame []byte) {
	s.events <- ev
	s.frames <- frame
}

func (s *recSink) UpstreamClosed(err error) { s.closed <- err }

func (s *recSink) next(t *testing.T) (*pb.Event, []byte) {
	t.Helper()
	select {
	case ev := <-s.events:
		return ev, <-s.frames
	case <-time.After(waitTimeout):
		t.Fatalf("no event delivered")
		return nil, nil
	}
}

// expectNothing fails when s holds an event. It proves absence only after
// a barrier: an event published after the ones that must not arrive, on
// every group that could have delivered them, and received by a sink of
// that group. A group hands its events to all its sinks one batch after
// the other, so once a later event reached one of its sinks, every earlier
// one has been handed to every sink it was going to reach.
func (s *recSink) expectNothing(t *testing.T) {
	t.Helper()
	select {
	case ev := <-s.events:
		t.Fatalf("unexpected event %v", ev)
	default:
	}
}

func (s *recSink) waitClosed(t *testing.T) error {
	t.Helper()
	select {
	case err := <-s.closed:
		return err
	case <-time.After(waitTimeout):
		t.Fatalf("UpstreamClosed not called")
		return nil
	}
}

func ctxTimeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}
