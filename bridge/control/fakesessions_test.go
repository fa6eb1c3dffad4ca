package control_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

const waitTimeout = 15 * time.Second

// fakeSessions is a SessionService whose Control streams the test drives.
type fakeSessions struct {
	pb.UnimplementedSessionServiceServer

	streams chan *controlStream // every Control stream, once the edge is registered
	closed  chan string         // session ids passed to Close

	mu        sync.Mutex
	log       []string      // "control-open", "connect:<id>" in the order they happened
	noHeaders bool          // do not send headers when a stream opens
	gate      chan struct{} // when set, Control waits for it before registering the edge
	renameTo  string        // when set, Connect assigns this id instead of the given one
}

type controlStream struct {
	edge   string
	orders chan *pb.ControlResponse
	drop   chan struct{} // close to end the stream with an error
	done   chan struct{}
}

func (s *controlStream) send(t *testing.T, m *pb.ControlResponse) {
	t.Helper()
	select {
	case s.orders <- m:
	case <-time.After(waitTimeout):
		t.Fatalf("order not taken")
	}
}

func (f *fakeSessions) record(entry string) {
	f.mu.Lock()
	f.log = append(f.log, entry)
	f.mu.Unlock()
}

func (f *fakeSessions) entries() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.log...)
}

func (f *fakeSessions) Control(req *pb.ControlRequest, stream grpc.ServerStreamingServer[pb.ControlResponse]) error {
	ctx := stream.Context()
	f.mu.Lock()
	gate, noHeaders := f.gate, f.noHeaders
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	cs := &controlStream{edge: req.GetEdge(), orders: make(chan *pb.ControlResponse, 16), drop: make(chan struct{}), done: make(chan struct{})}
	defer close(cs.done)
	f.record("control-open")
	if !noHeaders {
		if err := stream.SendHeader(metadata.MD{}); err != nil {
			return err
		}
	}
	f.streams <- cs
	for {
		select {
		case m := <-cs.orders:
			if err := stream.Send(m); err != nil {
				return err
			}
		case <-cs.drop:
			return context.Canceled
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (f *fakeSessions) Connect(_ context.Context, req *pb.ConnectRequest) (*pb.ConnectResponse, error) {
	s := req.GetSession()
	f.mu.Lock()
	if f.renameTo != "" {
		s.Id = f.renameTo
	}
	f.mu.Unlock()
	f.record("connect:" + s.GetId() + "@" + req.GetEdge())
	return &pb.ConnectResponse{Session: s, Queued: []*pb.Event{{Id: "queued"}}}, nil
}

func (f *fakeSessions) Close(_ context.Context, req *pb.CloseRequest) (*pb.CloseResponse, error) {
	f.closed <- req.GetSessionId()
	return &pb.CloseResponse{}, nil
}

func (f *fakeSessions) nextStream(t *testing.T) *controlStream {
	t.Helper()
	select {
	case s := <-f.streams:
		return s
	case <-time.After(waitTimeout):
		t.Fatalf("no control stream opened")
		return nil
	}
}

func startSessions(t *testing.T, f *fakeSessions) pb.SessionServiceClient {
	t.Helper()
	f.streams = make(chan *controlStream, 16)
	f.closed = make(chan string, 16)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	srv := grpc.NewServer()
	pb.RegisterSessionServiceServer(srv, f)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return pb.NewSessionServiceClient(conn)
}

// recHandler records the orders routed to one session.
type recHandler struct{ orders chan string }

func newRecHandler() *recHandler { return &recHandler{orders: make(chan string, 16)} }

func (h *recHandler) Disconnect(reason string)   { h.orders <- "disconnect:" + reason }
func (h *recHandler) Unsubscribe(channel string) { h.orders <- "unsubscribe:" + channel }
func (h *recHandler) Deliver(ev *pb.Event)       { h.orders <- "event:" + ev.GetId() }

func (h *recHandler) next(t *testing.T) string {
	t.Helper()
	select {
	case o := <-h.orders:
		return o
	case <-time.After(waitTimeout):
		t.Fatalf("no order routed")
		return ""
	}
}

func (h *recHandler) expectNothing(t *testing.T) {
	t.Helper()
	select {
	case o := <-h.orders:
		t.Fatalf("unexpected order %q", o)
	default:
	}
}

func ctxTimeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}
