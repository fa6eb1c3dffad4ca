package hub

import (
	"context"
	"fmt"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/services/auth"
	"github.com/switchboard-hub/switchboard/services/engine"
)

// maxChannels bounds one Channels answer.
const maxChannels = 10000

// readable checks that the caller may read a channel: end users only their
// own user-limited channels.
func readable(ctx context.Context, channel string) error {
	id := auth.FromContext(ctx)
	if !id.Trusted && !userAllowed(channel, id.User) {
		return fmt.Errorf("channel %q is limited to other users: %w", channel, errPermission)
	}
	return nil
}

// History implements pb.HubServiceServer.
func (s *HubServer) History(ctx context.Context, req *pb.HistoryRequest) (*pb.HistoryResponse, error) {
	if err := validChannel("channel", req.Channel); err != nil {
		return nil, s.h.toStatus(err)
	}
	if err := readable(ctx, req.Channel); err != nil {
		return nil, s.h.toStatus(err)
	}
	o, err := s.h.optionsFor(req.Channel)
	if err != nil {
		return nil, s.h.toStatus(err)
	}
	if !o.history.Enabled() {
		return nil, s.h.toStatus(errHistoryOff)
	}
	events, top, err := s.h.eng.History(ctx, req.Tenant, req.Channel, engine.HistoryQuery{
		Since: req.Since, Limit: int(req.Limit), Reverse: req.Reverse,
	})
	if err != nil {
		return nil, s.h.toStatus(err)
	}
	return &pb.HistoryResponse{Events: events, Position: top}, nil
}

func (s *HubServer) presenceChannel(ctx context.Context, channel string) error {
	if err := validChannel("channel", channel); err != nil {
		return err
	}
	if err := readable(ctx, channel); err != nil {
		return err
	}
	o, err := s.h.optionsFor(channel)
	if err != nil {
		return err
	}
	if !o.presence {
		return errPresenceOff
	}
	return nil
}

// Presence implements pb.HubServiceServer.
func (s *HubServer) Presence(ctx context.Context, req *pb.PresenceRequest) (*pb.PresenceResponse, error) {
	if err := s.presenceChannel(ctx, req.Channel); err != nil {
		return nil, s.h.toStatus(err)
	}
	sessions, err := s.h.eng.Presence(ctx, req.Tenant, req.Channel)
	if err != nil {
		return nil, s.h.toStatus(err)
	}
	return &pb.PresenceResponse{Sessions: sessions}, nil
}

// PresenceStats implements pb.HubServiceServer.
func (s *HubServer) PresenceStats(ctx context.Context, req *pb.PresenceStatsRequest) (*pb.PresenceStatsResponse, error) {
	if err := s.presenceChannel(ctx, req.Channel); err != nil {
		return nil, s.h.toStatus(err)
	}
	n, u, err := s.h.eng.PresenceStats(ctx, req.Tenant, req.Channel)
	if err != nil {
		return nil, s.h.toStatus(err)
	}
	return &pb.PresenceStatsResponse{NumSessions: uint32(n), NumUsers: uint32(u)}, nil
}

// Channels implements pb.HubServiceServer.
func (s *HubServer) Channels(ctx context.Context, req *pb.ChannelsRequest) (*pb.ChannelsResponse, error) {
	limit := int(req.Limit)
	if limit <= 0 || limit > maxChannels {
		limit = maxChannels
	}
	// One more than asked: the directory's channel is not listed.
	chs, err := s.h.eng.Channels(ctx, req.Tenant, req.Prefix, limit+1)
	if err != nil {
		return nil, s.h.toStatus(err)
	}
	return &pb.ChannelsResponse{Channels: withoutDirectory(chs, limit)}, nil
}

// Unsubscribe implements pb.HubServiceServer.
func (s *HubServer) Unsubscribe(ctx context.Context, req *pb.UnsubscribeRequest) (*pb.UnsubscribeResponse, error) {
	if req.User == "" {
		return nil, s.h.toStatus(invalid("user", "user is required"))
	}
	if req.Channel != "" {
		if err := validChannel("channel", req.Channel); err != nil {
			return nil, s.h.toStatus(err)
		}
		if _, err := s.h.optionsFor(req.Channel); err != nil {
			return nil, s.h.toStatus(err)
		}
	}
	c := &engine.Control{Kind: engine.ControlUnsubscribe, Tenant: req.Tenant, User: req.User, Channel: req.Channel}
	if err := s.h.eng.PublishControl(ctx, c); err != nil {
		return nil, s.h.toStatus(err)
	}
	return &pb.UnsubscribeResponse{}, nil
}

// Disconnect implements pb.HubServiceServer.
func (s *HubServer) Disconnect(ctx context.Context, req *pb.DisconnectRequest) (*pb.DisconnectResponse, error) {
	if req.User == "" {
		return nil, s.h.toStatus(invalid("user", "user is required"))
	}
	c := &engine.Control{Kind: engine.ControlDisconnect, Tenant: req.Tenant, User: req.User, Reason: req.Reason}
	if err := s.h.eng.PublishControl(ctx, c); err != nil {
		return nil, s.h.toStatus(err)
	}
	return &pb.DisconnectResponse{}, nil
}

// Stats implements pb.HubServiceServer.
func (s *HubServer) Stats(ctx context.Context, _ *pb.StatsRequest) (*pb.StatsResponse, error) {
	nodes, err := s.h.eng.Nodes(ctx)
	if err != nil {
		return nil, s.h.toStatus(err)
	}
	// This node's entry is always fresh.
	self := s.h.nodeInfo()
	out := &pb.StatsResponse{Nodes: []*pb.NodeInfo{self}}
	for _, n := range nodes {
		if n.Id != self.Id {
			out.Nodes = append(out.Nodes, n)
		}
	}
	return out, nil
}

// Node implements pb.HubServiceServer.
func (s *HubServer) Node(context.Context, *pb.NodeRequest) (*pb.NodeResponse, error) {
	return &pb.NodeResponse{Node: s.h.nodeInfo()}, nil
}
