package hub

import (
	"context"
	"encoding/json"
	"fmt"

	"google.golang.org/protobuf/proto"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/services/engine"
)

// validateEvent checks the parts of an event every publish path shares.
func (h *Hub) validateEvent(field string, ev *pb.Event) error {
	if ev == nil {
		return invalid(field, "event is required")
	}
	if ev.Data == "" {
		return invalid(field+".data", "data is required (the JSON text of one value, e.g. {} or null)")
	}
	if size := len(ev.Data) + len(ev.Previous) + len(ev.GetPublisher().GetInfo()); size > h.opts.MaxPayload {
		return invalid(field+".data", "payload of %d bytes is over the limit of %d bytes", size, h.opts.MaxPayload)
	}
	if !json.Valid([]byte(ev.Data)) {
		return invalid(field+".data", "data is not valid JSON")
	}
	if ev.Previous != "" && !json.Valid([]byte(ev.Previous)) {
		return invalid(field+".previous", "previous is not valid JSON")
	}
	if info := ev.GetPublisher().GetInfo(); info != "" && !json.Valid([]byte(info)) {
		return invalid(field+".publisher.info", "info is not valid JSON")
	}
	if ev.Tenant == engine.AllTenants {
		return invalid(field+".tenant", "%q is not a tenant name", ev.Tenant)
	}
	return nil
}

// publish stores and fans out one event on its channel.
func (h *Hub) publish(ctx context.Context, ev *pb.Event) (*pb.PublishResponse, error) {
	o, err := h.optionsFor(ev.Channel)
	if err != nil {
		return nil, err
	}
	ev.To = nil
	ev.Offset, ev.Epoch = 0, ""
	pos, err := h.eng.Publish(ctx, ev, o.history)
	if err != nil {
		return nil, fmt.Errorf("publish to %q: %w", ev.Channel, err)
	}
	h.published.Add(1)
	publishedTotal.Inc()
	if h.opts.Observer != nil {
		if err := h.opts.Observer.Published(ctx, ev); err != nil {
			return nil, fmt.Errorf("publish to %q: %w: %w", ev.Channel, errObserver, err)
		}
	}
	return &pb.PublishResponse{Id: ev.Id, Position: pos}, nil
}

// HubServer implements pb.HubServiceServer.
type HubServer struct {
	pb.UnimplementedHubServiceServer
	h *Hub
}

// HubService returns the hub's HubService implementation.
func (h *Hub) HubService() *HubServer { return &HubServer{h: h} }

// Publish implements pb.HubServiceServer.
func (s *HubServer) Publish(ctx context.Context, req *pb.PublishRequest) (*pb.PublishResponse, error) {
	ev := req.GetEvent()
	if err := s.h.validateEvent("event", ev); err != nil {
		return nil, s.h.toStatus(err)
	}
	if err := validChannel("event.channel", ev.Channel); err != nil {
		return nil, s.h.toStatus(err)
	}
	if err := writableChannel("event.channel", ev.Channel); err != nil {
		return nil, s.h.toStatus(err)
	}
	if ev.To != nil && (ev.To.User != "" || ev.To.Session != "") {
		return nil, s.h.toStatus(invalid("event.to", "directed events are sent with Send, not Publish"))
	}
	resp, err := s.h.publish(ctx, proto.Clone(ev).(*pb.Event))
	return resp, s.h.toStatus(err)
}

// Broadcast implements pb.HubServiceServer.
func (s *HubServer) Broadcast(ctx context.Context, req *pb.BroadcastRequest) (*pb.BroadcastResponse, error) {
	if len(req.Channels) == 0 {
		return nil, s.h.toStatus(invalid("channels", "at least one channel is required"))
	}
	if err := s.h.validateEvent("event", req.Event); err != nil {
		return nil, s.h.toStatus(err)
	}
	for i, ch := range req.Channels {
		if err := validChannel(fmt.Sprintf("channels[%d]", i), ch); err != nil {
			return nil, s.h.toStatus(err)
		}
		if err := writableChannel(fmt.Sprintf("channels[%d]", i), ch); err != nil {
			return nil, s.h.toStatus(err)
		}
		if _, err := s.h.optionsFor(ch); err != nil {
			return nil, s.h.toStatus(fmt.Errorf("channels[%d] %q: %w", i, ch, err))
		}
	}
	out := &pb.BroadcastResponse{}
	for _, ch := range req.Channels {
		ev := proto.Clone(req.Event).(*pb.Event)
		ev.Channel = ch
		ev.Id = "" // one id per stored event
		r, err := s.h.publish(ctx, ev)
		if err != nil {
			return nil, s.h.toStatus(err)
		}
		out.Results = append(out.Results, r)
	}
	return out, nil
}

// Send implements pb.HubServiceServer.
func (s *HubServer) Send(ctx context.Context, req *pb.SendRequest) (*pb.SendResponse, error) {
	ev := req.GetEvent()
	if err := s.h.validateEvent("event", ev); err != nil {
		return nil, s.h.toStatus(err)
	}
	to := ev.GetTo()
	if to.GetUser() == "" && to.GetSession() == "" {
		return nil, s.h.toStatus(invalid("event.to", "to.user or to.session is required"))
	}
	if ev.Channel != "" {
		if err := validChannel("event.channel", ev.Channel); err != nil {
			return nil, s.h.toStatus(err)
		}
		if err := writableChannel("event.channel", ev.Channel); err != nil {
			return nil, s.h.toStatus(err)
		}
	}
	ev = proto.Clone(ev).(*pb.Event)
	if ev.Id == "" {
		ev.Id = engine.NewID()
	}
	if ev.Time == nil {
		ev.Time = nowTimestamp()
	}
	ev.Offset, ev.Epoch = 0, ""
	resp := &pb.SendResponse{}
	if to.GetUser() != "" {
		n, err := s.h.eng.UserSessions(ctx, ev.Tenant, to.GetUser())
		if err != nil {
			return nil, s.h.toStatus(err)
		}
		resp.Online = n > 0
		if !resp.Online && req.QueueIfOffline {
			if err := s.h.eng.Enqueue(ctx, ev.Tenant, to.GetUser(), ev, s.h.opts.UserQueue); err != nil {
				return nil, s.h.toStatus(err)
			}
			resp.Queued = true
			return resp, nil
		}
	} else {
		// A session lives on one node; only that node knows it.
		resp.Online = s.h.reg.get(to.GetSession()) != nil
	}
	if err := s.h.eng.PublishControl(ctx, &engine.Control{Kind: engine.ControlDeliver, Tenant: ev.Tenant, Event: ev}); err != nil {
		return nil, s.h.toStatus(err)
	}
	s.h.published.Add(1)
	publishedTotal.Inc()
	return resp, nil
}
