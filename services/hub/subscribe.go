package hub

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/access"
	"github.com/switchboard-hub/switchboard/services/auth"
	"github.com/switchboard-hub/switchboard/services/engine"
)

// Subscribe implements pb.HubServiceServer.
//
// Order of work, so that nothing is missed and nothing is sent twice: the
// stream is indexed first (live events start queueing), then history is read
// for every `since` channel, then `subscribed`, the replayed events, and the
// queue, skipping queued events that the replay already covered.
func (s *HubServer) Subscribe(req *pb.SubscribeRequest, srv pb.HubService_SubscribeServer) error {
	h := s.h
	ctx := srv.Context()
	id := auth.FromContext(ctx)
	if err := h.checkFilters(req.Filters, id.Trusted); err != nil {
		return h.toStatus(err)
	}
	if _, err := readerFor(ctx, req.OnBehalfOf); err != nil {
		return h.toStatus(err)
	}
	for i, sp := range req.Since {
		if err := validChannel(fmt.Sprintf("since[%d].channel", i), sp.GetChannel()); err != nil {
			return h.toStatus(err)
		}
		if sp.Position == nil {
			return h.toStatus(invalid(fmt.Sprintf("since[%d].position", i), "position is required"))
		}
	}

	sess, err := h.streamSession(ctx, id, req)
	if err != nil {
		return h.toStatus(err)
	}
	if sess.implicit {
		defer h.closeSession(context.WithoutCancel(ctx), sess)
	}
	reader, err := streamReader(ctx, req, sess)
	if err != nil {
		return h.toStatus(err)
	}
	for _, f := range req.Filters {
		for _, ch := range exactChannels(f) {
			if err := mayRead(ch, reader); err != nil {
				return h.toStatus(err)
			}
		}
	}
	for _, sp := range req.Since {
		if err := mayRead(sp.Channel, reader); err != nil {
			return h.toStatus(err)
		}
	}

	st := newStream(sess, req.Filters, reader, h.opts.QueueSize)
	sess.mu.Lock()
	if sess.streams == nil {
		sess.streams = map[*stream]bool{}
	}
	sess.streams[st] = true
	sess.mu.Unlock()
	defer func() {
		sess.mu.Lock()
		delete(sess.streams, st)
		sess.mu.Unlock()
	}()
	if err := h.disp.add(ctx, st); err != nil {
		return h.toStatus(err)
	}
	streamsGauge.Inc()
	defer func() {
		h.disp.remove(st)
		streamsGauge.Dec()
	}()
	if sess.implicit {
		var chs []string
		for _, f := range req.Filters {
			chs = append(chs, exactChannels(f)...)
		}
		if err := h.join(ctx, sess, chs); err != nil {
			return h.toStatus(err)
		}
	}

	// Replay.
	var replay []*pb.Event
	covered := map[chanKey]*pb.StreamPosition{}
	subscribed := &pb.Subscribed{SessionId: sess.info.Id, Node: h.node.Id, Audiences: limitedChannels(req.Filters)}
	for _, sp := range req.Since {
		tenant := sp.Tenant
		events, top, err := h.eng.History(ctx, tenant, sp.Channel, engine.HistoryQuery{Since: sp.Position})
		if err != nil {
			return h.toStatus(fmt.Errorf("resume %q from offset %d epoch %q: %w", sp.Channel, sp.Position.Offset, sp.Position.Epoch, err))
		}
		reached := &pb.StreamPosition{Offset: sp.Position.Offset, Epoch: top.GetEpoch()}
		for _, ev := range events {
			if st.matches(ev, audienceOf(ev.Channel)) {
				replay = append(replay, ev)
			}
			reached.Offset = ev.Offset
		}
		covered[chanKey{tenant, sp.Channel}] = reached
		subscribed.Positions = append(subscribed.Positions, &pb.ChannelPosition{Tenant: tenant, Channel: sp.Channel, Position: reached})
	}
	if err := srv.Send(&pb.SubscribeResponse{Payload: &pb.SubscribeResponse_Subscribed{Subscribed: subscribed}}); err != nil {
		return err
	}
	for _, ev := range replay {
		if err := srv.Send(eventMessage(ev)); err != nil {
			return err
		}
	}
	return h.pump(ctx, st, srv, covered)
}

// checkFilters checks a subscription's filters: their shape, the channels
// reserved to api keys, and that every channel named exactly is in a known
// namespace.
func (h *Hub) checkFilters(filters []*pb.Filter, trusted bool) error {
	if err := validateFilters(filters); err != nil {
		return err
	}
	if err := sysAllowed(filters, trusted); err != nil {
		return err
	}
	for i, f := range filters {
		if f.Tenant == engine.AllTenants && !trusted {
			return fmt.Errorf("filters[%d].tenant: every tenant needs an api key: %w", i, errPermission)
		}
		for _, ch := range exactChannels(f) {
			if _, err := h.optionsFor(ch); err != nil {
				return fmt.Errorf("channel %q: %w", ch, err)
			}
		}
	}
	return nil
}

// pump sends queued messages until the stream ends.
func (h *Hub) pump(ctx context.Context, st *stream, srv pb.HubService_SubscribeServer, covered map[chanKey]*pb.StreamPosition) error {
	tick := time.NewTicker(h.opts.Heartbeat)
	defer tick.Stop()
	idle := true
	for {
		select {
		case <-ctx.Done():
			return h.toStatus(ctx.Err())
		case <-h.closing:
			return errShutdown
		case <-st.done:
			if isGap(st.err) {
				for msg, ok := st.next(); ok; msg, ok = st.next() {
					if err := h.send(srv, msg, covered); err != nil {
						return err
					}
				}
			}
			if errors.Is(st.err, errSlowConsumer) {
				h.slow.Add(1)
				slowConsumersTotal.Inc()
				h.log.Info("subscription cut off", "reason", "slow consumer", "session", st.sess.info.Id, "queued", st.queued())
			}
			return st.err
		case <-st.ready:
			msg, ok := st.next()
			if !ok {
				continue
			}
			if err := h.send(srv, msg, covered); err != nil {
				return err
			}
			idle = false
		case <-tick.C:
			if idle {
				hb := &pb.SubscribeResponse{Payload: &pb.SubscribeResponse_Heartbeat{Heartbeat: &pb.Heartbeat{Time: timestamppb.Now()}}}
				if err := srv.Send(hb); err != nil {
					return err
				}
			}
			idle = true
		}
	}
}

// send sends one queued message, skipping events the replay covered.
func (h *Hub) send(srv pb.HubService_SubscribeServer, msg *pb.SubscribeResponse, covered map[chanKey]*pb.StreamPosition) error {
	if ev := msg.GetEvent(); ev != nil && len(covered) > 0 {
		if p := covered[chanKey{ev.Tenant, ev.Channel}]; p != nil && ev.Epoch == p.Epoch && ev.Offset != 0 && ev.Offset <= p.Offset {
			return nil // already replayed from history
		}
	}
	return srv.Send(msg)
}

// streamSession finds the session a stream belongs to, or makes the
// stream's own.
func (h *Hub) streamSession(ctx context.Context, id auth.Identity, req *pb.SubscribeRequest) (*session, error) {
	if req.Shared {
		if !id.Trusted {
			return nil, fmt.Errorf("shared needs an api key: %w", errPermission)
		}
		if req.SessionId != "" {
			return nil, invalid("shared", "a shared stream belongs to no session; leave session_id empty")
		}
		// Not registered: no presence, no control orders.
		return &session{info: &pb.Session{Id: engine.NewID(), Face: id.Face, Node: h.node.Id}}, nil
	}
	if req.SessionId != "" {
		if !id.Trusted {
			return nil, fmt.Errorf("session_id needs an api key: %w", errPermission)
		}
		s := h.reg.get(req.SessionId)
		if s == nil {
			return nil, fmt.Errorf("session %q: %w", req.SessionId, errSessionNotFound)
		}
		return s, nil
	}
	tenant := req.Filters[0].GetTenant()
	if tenant == engine.AllTenants {
		tenant = ""
	}
	user := id.User
	if p := req.OnBehalfOf; p.GetAuthenticated() {
		// The stream is that user's: in its presence, reached by
		// Unsubscribe and Disconnect of the user.
		user = p.GetUser()
	}
	s := &session{
		implicit: true,
		info: &pb.Session{
			Id:          engine.NewID(),
			User:        user,
			Tenant:      tenant,
			Face:        strings.TrimSpace(id.Face),
			Node:        h.node.Id,
			ConnectedAt: timestamppb.Now(),
		},
	}
	if s.info.Face == "" {
		s.info.Face = "grpc"
	}
	if err := h.opened(ctx, s); err != nil {
		return nil, err
	}
	return s, nil
}

// streamReader is on whose behalf a stream reads: the principal an api-key
// caller names; else the user of a session that has one (a session an
// api-key caller names with session_id, or a token caller's own stream);
// else the caller.
func streamReader(ctx context.Context, req *pb.SubscribeRequest, sess *session) (access.Reader, error) {
	if req.OnBehalfOf == nil && sess.info.User != "" {
		return sessionReader(sess.info, req.SessionId != ""), nil
	}
	return readerFor(ctx, req.OnBehalfOf)
}
