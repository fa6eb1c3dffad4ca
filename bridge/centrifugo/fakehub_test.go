package centrifugo_test

import (
	"context"
	"net"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// fakeHub is a HubService served over a real gRPC loopback connection. It
// records every request in order and answers with the hooks that are set
// (empty responses otherwise), so executor and handler tests can run before
// and independently of the real core.
type fakeHub struct {
	pb.UnimplementedHubServiceServer

	mu    sync.Mutex
	calls []proto.Message
	seen  chan proto.Message // every request, as it arrives

	publish     func(*pb.PublishRequest) (*pb.PublishResponse, error)
	broadcast   func(*pb.BroadcastRequest) (*pb.BroadcastResponse, error)
	unsubscribe func(*pb.UnsubscribeRequest) (*pb.UnsubscribeResponse, error)
	disconnect  func(*pb.DisconnectRequest) (*pb.DisconnectResponse, error)
	presence    func(*pb.PresenceRequest) (*pb.PresenceResponse, error)
	history     func(*pb.HistoryRequest) (*pb.HistoryResponse, error)
	channels    func(*pb.ChannelsRequest) (*pb.ChannelsResponse, error)
	stats       func(*pb.StatsRequest) (*pb.StatsResponse, error)
	node        func(*pb.NodeRequest) (*pb.NodeResponse, error)
}

// startFakeHub serves h on 127.0.0.1:0 and returns a client connected to it.
func startFakeHub(t *testing.T, h *fakeHub) pb.HubServiceClient {
	t.Helper()
	h.seen = make(chan proto.Message, 1024)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	pb.RegisterHubServiceServer(srv, h)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return pb.NewHubServiceClient(conn)
}

func (h *fakeHub) record(m proto.Message) {
	h.mu.Lock()
	h.calls = append(h.calls, m)
	h.mu.Unlock()
	h.seen <- m
}

// requests returns the requests received so far.
func (h *fakeHub) requests() []proto.Message {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]proto.Message(nil), h.calls...)
}

func answer[Req, Resp any](h *fakeHub, hook func(Req) (Resp, error), req Req, empty Resp) (Resp, error) {
	h.record(any(req).(proto.Message))
	if hook == nil {
		return empty, nil
	}
	return hook(req)
}

func (h *fakeHub) Publish(_ context.Context, r *pb.PublishRequest) (*pb.PublishResponse, error) {
	return answer(h, h.publish, r, &pb.PublishResponse{})
}

func (h *fakeHub) Broadcast(_ context.Context, r *pb.BroadcastRequest) (*pb.BroadcastResponse, error) {
	return answer(h, h.broadcast, r, &pb.BroadcastResponse{})
}

func (h *fakeHub) Unsubscribe(_ context.Context, r *pb.UnsubscribeRequest) (*pb.UnsubscribeResponse, error) {
	return answer(h, h.unsubscribe, r, &pb.UnsubscribeResponse{})
}

func (h *fakeHub) Disconnect(_ context.Context, r *pb.DisconnectRequest) (*pb.DisconnectResponse, error) {
	return answer(h, h.disconnect, r, &pb.DisconnectResponse{})
}

func (h *fakeHub) Presence(_ context.Context, r *pb.PresenceRequest) (*pb.PresenceResponse, error) {
	return answer(h, h.presence, r, &pb.PresenceResponse{})
}

func (h *fakeHub) History(_ context.Context, r *pb.HistoryRequest) (*pb.HistoryResponse, error) {
	return answer(h, h.history, r, &pb.HistoryResponse{})
}

func (h *fakeHub) Channels(_ context.Context, r *pb.ChannelsRequest) (*pb.ChannelsResponse, error) {
	return answer(h, h.channels, r, &pb.ChannelsResponse{})
}

func (h *fakeHub) Stats(_ context.Context, r *pb.StatsRequest) (*pb.StatsResponse, error) {
	return answer(h, h.stats, r, &pb.StatsResponse{})
}

func (h *fakeHub) Node(_ context.Context, r *pb.NodeRequest) (*pb.NodeResponse, error) {
	return answer(h, h.node, r, &pb.NodeResponse{})
}
