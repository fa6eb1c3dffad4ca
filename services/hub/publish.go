package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"
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
	return h.publishWith(ctx, ev, o)
}

// publishWith publishes ev with its channel's options o, already resolved.
func (h *Hub) publishWith(ctx context.Context, ev *pb.Event, o channelOptions) (*pb.PublishResponse, error) {
	resp := &pb.PublishResponse{}
	if err := h.publishInto(ctx, ev, o, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

// publishInto is publishWith answering in resp.
func (h *Hub) publishInto(ctx context.Context, ev *pb.Event, o channelOptions, resp *pb.PublishResponse) error {
	ev.To = nil
	ev.Offset, ev.Epoch = 0, ""
	pos, err := h.publishEvent(ctx, ev, o.history)
	if err != nil {
		return err
	}
	resp.Id, resp.Position = ev.Id, pos
	return nil
}

// publishEvent publishes ev through the engine, and through the Observer
// when there is one, and counts it.
func (h *Hub) publishEvent(ctx context.Context, ev *pb.Event, opts engine.HistoryOptions) (*pb.StreamPosition, error) {
	if h.opts.Observer == nil {
		pos, err := h.eng.Publish(ctx, ev, opts)
		if err != nil {
			return nil, fmt.Errorf("publish to %q: %w", ev.Channel, err)
		}
		h.published.Add(1)
		publishedTotal.Inc()
		return pos, nil
	}
	pos, err := h.opts.Observer.Publish(ctx, ev, opts, h.eng.Publish)
	if pos != nil {
		h.published.Add(1)
		publishedTotal.Inc()
	}
	switch {
	case err != nil && pos == nil:
		return nil, fmt.Errorf("publish to %q: %w", ev.Channel, err)
	case err != nil:
		return nil, fmt.Errorf("publish to %q: %w: %w", ev.Channel, errObserver, err)
	}
	return pos, nil
}

// checkPublish runs the checks of Publish on ev (named "event" in errors)
// and resolves its channel's options.
func (h *Hub) checkPublish(ev *pb.Event) (channelOptions, error) {
	if err := h.validateEvent("event", ev); err != nil {
		return channelOptions{}, err
	}
	if err := validChannel("event.channel", ev.Channel); err != nil {
		return channelOptions{}, err
	}
	if err := writableChannel("event.channel", ev.Channel); err != nil {
		return channelOptions{}, err
	}
	if ev.To != nil && (ev.To.User != "" || ev.To.Session != "") {
		return channelOptions{}, invalid("event.to", "directed events are sent with Send, not Publish")
	}
	return h.optionsFor(ev.Channel)
}

// HubServer implements pb.HubServiceServer.
type HubServer struct {
	pb.UnimplementedHubServiceServer
	h *Hub
}

// HubService returns the hub's HubService implementation.
func (h *Hub) HubService() *HubServer { return &HubServer{h: h} }

// Publish implements pb.HubServiceServer. The request is the handler's own
// (decoded for this call, or copied by an in-process connection), so its
// event is published as it is, without a copy.
func (s *HubServer) Publish(ctx context.Context, req *pb.PublishRequest) (*pb.PublishResponse, error) {
	ev := req.GetEvent()
	o, err := s.h.checkPublish(ev)
	if err != nil {
		return nil, s.h.toStatus(err)
	}
	resp, err := s.h.publishWith(ctx, ev, o)
	return resp, s.h.toStatus(err)
}

// MaxPublishBatch bounds the events of one PublishBatch call.
const MaxPublishBatch = 10000

// batchStopped is the ErrorInfo reason of a PublishBatch that stopped at
// one of its events; metadata "index" names it.
const (
	batchStopped = "PUBLISH_BATCH_STOPPED"
	errorDomain  = "switchboard"
)

// PublishBatch implements pb.HubServiceServer: every event as Publish would
// take it, in order, in one call. Events are checked and published one after
// the other, so a bad event stops the batch exactly where successive Publish
// calls would have failed.
func (s *HubServer) PublishBatch(ctx context.Context, req *pb.PublishBatchRequest) (*pb.PublishBatchResponse, error) {
	switch n := len(req.Requests); {
	case n == 0:
		return nil, s.h.toStatus(invalid("requests", "at least one request is required"))
	case n > MaxPublishBatch:
		return nil, s.h.toStatus(invalid("requests", "%d requests are over the limit of %d", n, MaxPublishBatch))
	}
	out := &pb.PublishBatchResponse{Results: make([]*pb.PublishResponse, 0, len(req.Requests))}
	results := make([]pb.PublishResponse, len(req.Requests)) // one allocation
	for i, r := range req.Requests {
		ev := r.GetEvent()
		o, err := s.h.checkPublish(ev)
		if err != nil {
			var fe *fieldError
			if errors.As(err, &fe) {
				err = &fieldError{field: fmt.Sprintf("requests[%d].%s", i, fe.field), msg: fe.msg}
			}
			return nil, s.h.batchStopped(i, err)
		}
		if err := s.h.publishInto(ctx, ev, o, &results[i]); err != nil {
			return nil, s.h.batchStopped(i, err)
		}
		out.Results = append(out.Results, &results[i])
	}
	return out, nil
}

// batchStopped is the status of a PublishBatch that stopped at event i
// with err: err's own status, with an ErrorInfo naming i added.
func (h *Hub) batchStopped(i int, err error) error {
	st := status.Convert(h.toStatus(err))
	info := &errdetails.ErrorInfo{Reason: batchStopped, Domain: errorDomain, Metadata: map[string]string{"index": strconv.Itoa(i)}}
	if d, derr := st.WithDetails(info); derr == nil {
		st = d
	}
	return st.Err()
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
