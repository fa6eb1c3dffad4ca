package inproc_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/inproc"
)

// fakeHub records what Publish saw and answers with err or a reply.
type fakeHub struct {
	pb.UnimplementedHubServiceServer
	md    metadata.MD
	reply *pb.PublishResponse
	err   error
}

func (f *fakeHub) Publish(ctx context.Context, req *pb.PublishRequest) (*pb.PublishResponse, error) {
	f.md, _ = metadata.FromIncomingContext(ctx)
	req.Event.Channel = "changed by the server"
	return f.reply, f.err
}

func TestLocalConn(t *testing.T) {
	var order []string
	mark := func(name string) grpc.UnaryServerInterceptor {
		return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			order = append(order, name+" "+info.FullMethod)
			return h(ctx, req)
		}
	}
	tests := []struct {
		name     string
		err      error
		wantCode codes.Code
	}{
		{"reply", nil, codes.OK},
		{"status error kept", status.Error(codes.InvalidArgument, "event.channel: empty"), codes.InvalidArgument},
		{"plain error is Unknown", errors.New("boom"), codes.Unknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			order = nil
			srv := &fakeHub{reply: &pb.PublishResponse{Id: "e1"}, err: tt.err}
			c := inproc.New(nil, metadata.Pairs("authorization", "apikey k"), []grpc.UnaryServerInterceptor{mark("outer"), mark("inner")}, nil)
			pb.RegisterHubServiceServer(c, srv)

			ctx := metadata.AppendToOutgoingContext(context.Background(), "x-trace", "t1")
			req := &pb.PublishRequest{Event: &pb.Event{Channel: "news"}}
			resp, err := pb.NewHubServiceClient(c).Publish(ctx, req)
			if status.Code(err) != tt.wantCode {
				t.Fatalf("err = %v, want code %v", err, tt.wantCode)
			}
			if tt.err == nil && resp.GetId() != "e1" {
				t.Fatalf("reply = %v", resp)
			}
			if resp != nil && resp == srv.reply {
				t.Fatal("the reply is the server's message, not a copy")
			}
			if req.Event.Channel != "news" {
				t.Fatal("the server changed the caller's request")
			}
			if got := srv.md.Get("authorization"); len(got) != 1 || got[0] != "apikey k" {
				t.Fatalf("authorization = %v", got)
			}
			if got := srv.md.Get("x-trace"); len(got) != 1 || got[0] != "t1" {
				t.Fatalf("outgoing metadata = %v", got)
			}
			want := []string{"outer /switchboard.v1.HubService/Publish", "inner /switchboard.v1.HubService/Publish"}
			if len(order) != 2 || order[0] != want[0] || order[1] != want[1] {
				t.Fatalf("interceptors ran %v, want %v", order, want)
			}
		})
	}
}

// streamHub sends n events on Subscribe, then ends with err; with block it
// waits for the caller to go away instead.
type streamHub struct {
	pb.UnimplementedHubServiceServer
	n     int
	err   error
	block bool
	ended chan error
	sent  []*pb.Event // what Subscribe sends; n of them
}

func (f *streamHub) Subscribe(req *pb.SubscribeRequest, srv pb.HubService_SubscribeServer) error {
	if err := srv.SendHeader(metadata.Pairs("x-node", "n1")); err != nil {
		return err
	}
	for i := range f.n {
		// A message is immutable once sent (inproc.Conn): a new one each
		// time. The event is shared with the caller, not copied.
		if err := srv.Send(&pb.SubscribeResponse{Payload: &pb.SubscribeResponse_Event{Event: f.sent[i]}}); err != nil {
			return err
		}
	}
	if f.block {
		<-srv.Context().Done()
		f.ended <- srv.Context().Err()
	}
	return f.err
}

func TestLocalServerStream(t *testing.T) {
	srv := &streamHub{n: 3, err: status.Error(codes.Unavailable, "hub going away")}
	for i := range srv.n {
		srv.sent = append(srv.sent, &pb.Event{Channel: "news", Offset: uint64(i)})
	}
	c := inproc.New(nil, nil, nil, nil)
	pb.RegisterHubServiceServer(c, srv)
	stream, err := pb.NewHubServiceClient(c).Subscribe(context.Background(), &pb.SubscribeRequest{Filters: []*pb.Filter{{Channels: []string{"news"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if md, err := stream.Header(); err != nil || md.Get("x-node")[0] != "n1" {
		t.Fatalf("header %v %v", md, err)
	}
	for i := range 3 {
		m, err := stream.Recv()
		if err != nil || m.GetEvent().GetChannel() != "news" || m.GetEvent().GetOffset() != uint64(i) {
			t.Fatalf("message %d: %v %v", i, m, err)
		}
		if m.GetEvent() != srv.sent[i] {
			t.Fatalf("message %d: the event was copied", i)
		}
	}
	if _, err := stream.Recv(); status.Code(err) != codes.Unavailable {
		t.Fatalf("end: %v, want Unavailable", err)
	}

	// The caller going away ends the handler's context.
	srv = &streamHub{block: true, ended: make(chan error, 1)}
	c = inproc.New(nil, nil, nil, nil)
	pb.RegisterHubServiceServer(c, srv)
	ctx, cancel := context.WithCancel(context.Background())
	stream, err = pb.NewHubServiceClient(c).Subscribe(ctx, &pb.SubscribeRequest{Filters: []*pb.Filter{{Channels: []string{"a"}}}})
	if err != nil {
		t.Fatal(err)
	}
	stream.Header()
	cancel()
	if _, err := stream.Recv(); status.Code(err) != codes.Canceled {
		t.Fatalf("Recv after cancel: %v", err)
	}
	if err := <-srv.ended; err == nil {
		t.Fatal("handler context not ended")
	}
}

// burstHub sends as many events as asked on Subscribe, reporting each Send
// before and after it, and then the result of the last one.
type burstHub struct {
	pb.UnimplementedHubServiceServer
	n       int
	sending chan int   // i before Send i
	sent    chan int   // i after Send i returned nil
	last    chan error // what the last Send returned
}

func (f *burstHub) Subscribe(_ *pb.SubscribeRequest, srv pb.HubService_SubscribeServer) error {
	ev := &pb.SubscribeResponse{Payload: &pb.SubscribeResponse_Event{Event: &pb.Event{}}}
	for i := range f.n {
		f.sending <- i
		ev.GetEvent().Offset = uint64(i)
		err := srv.Send(ev)
		if i == f.n-1 {
			f.last <- err
			return err
		}
		if err != nil {
			return err
		}
		f.sent <- i
	}
	return nil
}

// A server stream runs StreamBuffer messages ahead of a reader that does
// not read, and no further: the next Send waits until the stream ends.
func TestServerStreamBuffer(t *testing.T) {
	n := inproc.StreamBuffer + 1
	srv := &burstHub{n: n, sending: make(chan int, n), sent: make(chan int, n), last: make(chan error, 1)}
	c := inproc.New(nil, nil, nil, nil)
	pb.RegisterHubServiceServer(c, srv)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	stream, err := pb.NewHubServiceClient(c).Subscribe(ctx, &pb.SubscribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range inproc.StreamBuffer {
		if got := <-srv.sent; got != i {
			t.Fatalf("send %d finished as %d", i, got)
		}
	}
	// The buffer is full: the last Send has begun and cannot finish.
	for range n {
		<-srv.sending
	}
	cancel()
	if err := <-srv.last; status.Code(err) != codes.Canceled {
		t.Fatalf("Send beyond the buffer: %v, want Canceled once the caller left", err)
	}
	if _, err := stream.Recv(); status.Code(err) != codes.Canceled {
		t.Fatalf("Recv after cancel: %v", err)
	}
}

// Calls for methods not registered go to the fallback connection; without
// one they fail with Unimplemented.
func TestFallback(t *testing.T) {
	c := inproc.New(nil, nil, nil, nil)
	pb.RegisterHubServiceServer(c, &fakeHub{reply: &pb.PublishResponse{}})
	_, err := pb.NewSessionServiceClient(c).Connect(t.Context(), &pb.ConnectRequest{})
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("no fallback: %v, want Unimplemented", err)
	}

	fb := inproc.New(nil, nil, nil, nil)
	pb.RegisterSessionServiceServer(fb, &fakeSessions{})
	c.SetFallback(fb)
	if _, err := pb.NewSessionServiceClient(c).Connect(t.Context(), &pb.ConnectRequest{}); err != nil {
		t.Fatalf("through the fallback: %v", err)
	}
	if _, err := pb.NewHubServiceClient(c).Publish(t.Context(), &pb.PublishRequest{Event: &pb.Event{}}); err != nil {
		t.Fatalf("registered method: %v", err)
	}
}

type fakeSessions struct {
	pb.UnimplementedSessionServiceServer
}

func (fakeSessions) Connect(context.Context, *pb.ConnectRequest) (*pb.ConnectResponse, error) {
	return &pb.ConnectResponse{}, nil
}

// holdHub's Subscribe runs until released, then reports whether Close had
// already returned by then.
type holdHub struct {
	pb.UnimplementedHubServiceServer
	started, released chan struct{}
	closed            *atomic.Bool
	closedEarly       chan bool
}

func (f *holdHub) Subscribe(_ *pb.SubscribeRequest, srv pb.HubService_SubscribeServer) error {
	close(f.started)
	<-f.released
	f.closedEarly <- f.closed.Load()
	return nil
}

// Close refuses new calls at once and returns only after the running
// handlers have returned.
func TestClose(t *testing.T) {
	srv := &holdHub{started: make(chan struct{}), released: make(chan struct{}), closed: new(atomic.Bool), closedEarly: make(chan bool, 1)}
	c := inproc.New(nil, nil, nil, nil)
	pb.RegisterHubServiceServer(c, srv)
	client := pb.NewHubServiceClient(c)
	if _, err := client.Subscribe(t.Context(), &pb.SubscribeRequest{}); err != nil {
		t.Fatal(err)
	}
	<-srv.started
	closeDone := make(chan struct{})
	go func() {
		c.Close()
		srv.closed.Store(true)
		close(closeDone)
	}()
	// A refused call shows that Close has begun.
	for {
		_, err := client.Publish(t.Context(), &pb.PublishRequest{})
		if status.Code(err) == codes.Unavailable {
			break
		}
		if status.Code(err) != codes.Unimplemented {
			t.Fatalf("Publish while closing: %v", err)
		}
	}
	close(srv.released)
	if <-srv.closedEarly {
		t.Fatal("Close returned while a handler was running")
	}
	<-closeDone
	stream, err := client.Subscribe(t.Context(), &pb.SubscribeRequest{})
	if err == nil {
		_, err = stream.Recv()
	}
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("stream after Close: %v, want Unavailable", err)
	}
}
