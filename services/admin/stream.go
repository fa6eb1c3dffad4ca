package admin

import (
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/streamable"
	"github.com/switchboard-hub/switchboard/services/engine"
)

// maxAllowList bounds the allow-list of one stream.
const maxAllowList = 1000

// StreamEvents implements pb.AdminServiceServer. It holds one hub stream of
// every tenant's events (lifecycle channels included); the hub's bounded
// queue behind it ends the stream with RESOURCE_EXHAUSTED when the reader
// falls behind.
func (s *Server) StreamEvents(req *pb.StreamEventsRequest, srv pb.AdminService_StreamEventsServer) error {
	ctx := srv.Context()
	if err := trusted(ctx); err != nil {
		return err
	}
	if len(req.GetAllowList()) > maxAllowList {
		return status.Errorf(codes.InvalidArgument, "allow_list: at most %d types", maxAllowList)
	}
	for i, t := range req.GetAllowList() {
		if streamable.Type(t) < streamable.TypeMin || streamable.Type(t) > streamable.TypeMax {
			return status.Errorf(codes.InvalidArgument, "allow_list[%d]: %d is not a SEVT type (%d..%d)", i, t, streamable.TypeMin, streamable.TypeMax)
		}
	}
	allow := streamable.AllowList(req.GetAllowList())
	sub, err := s.opts.Hub.Subscribe(ctx, &pb.SubscribeRequest{
		// Every publication, and the reserved sys channels, which a "*"
		// filter does not match: they must be named.
		Filters: []*pb.Filter{
			{Tenant: engine.AllTenants, Channels: []string{engine.AllChannels}},
			{Tenant: engine.AllTenants, Channels: streamable.SysChannels},
		},
		Shared: true, // the stream is no session of its own: it would report itself
	})
	if err != nil {
		return err
	}
	first, err := sub.Recv()
	if err != nil {
		return err
	}
	if first.GetSubscribed() == nil {
		return status.Error(codes.Internal, "internal error")
	}
	// HELLO once the hub stream is live: whatever happens after the reader
	// sees it is on the stream.
	now := s.opts.Now().Unix()
	hello := streamable.Hello(s.opts.Version, s.started.Unix(), now, s.opts.Node)
	if err := srv.Send(&pb.StreamEventsResponse{Event: hello.ToProto()}); err != nil {
		return err
	}
	for {
		r, err := sub.Recv()
		if err != nil {
			return err
		}
		ev := r.GetEvent()
		if ev == nil {
			continue
		}
		se, ok := streamable.FromEvent(ev)
		if !ok || !allow.Allows(se.Type) {
			continue
		}
		if err := srv.Send(&pb.StreamEventsResponse{Event: se.ToProto()}); err != nil {
			return fmt.Errorf("send: %w", err)
		}
	}
}
