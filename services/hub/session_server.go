package hub

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/services/engine"
)

// SessionServer implements pb.SessionServiceServer.
type SessionServer struct {
	pb.UnimplementedSessionServiceServer
	h *Hub
}

// SessionService returns the hub's SessionService implementation.
func (h *Hub) SessionService() *SessionServer { return &SessionServer{h: h} }

// Connect implements pb.SessionServiceServer.
func (s *SessionServer) Connect(ctx context.Context, req *pb.ConnectRequest) (*pb.ConnectResponse, error) {
	h := s.h
	if req.Session == nil {
		return nil, h.toStatus(invalid("session", "session is required"))
	}
	if req.Session.Tenant == engine.AllTenants {
		return nil, h.toStatus(invalid("session.tenant", "%q is not a tenant name", req.Session.Tenant))
	}
	info := proto.Clone(req.Session).(*pb.Session)
	if info.Id == "" {
		info.Id = engine.NewID()
	} else if h.reg.get(info.Id) != nil {
		return nil, h.toStatus(fmt.Errorf("session %q: %w", info.Id, errSessionExists))
	}
	info.Node = h.node.Id
	info.ConnectedAt = timestamppb.Now()
	sess := &session{info: info, edge: req.Edge}
	if err := h.opened(ctx, sess); err != nil {
		return nil, h.toStatus(err)
	}
	resp := &pb.ConnectResponse{Session: info}
	if info.User != "" && req.DrainQueue {
		queued, err := h.eng.Drain(ctx, info.Tenant, info.User)
		if err != nil {
			h.log.Warn("reading queued messages failed", "user", info.User, "err", err)
		}
		resp.Queued = queued
	}
	return resp, nil
}

// Close implements pb.SessionServiceServer.
func (s *SessionServer) Close(ctx context.Context, req *pb.CloseRequest) (*pb.CloseResponse, error) {
	sess := s.h.reg.get(req.SessionId)
	if sess == nil {
		return nil, s.h.toStatus(fmt.Errorf("session %q: %w", req.SessionId, errSessionNotFound))
	}
	for _, st := range sess.streamList() {
		st.end(disconnectedError("session closed"))
	}
	s.h.closeSession(ctx, sess)
	return &pb.CloseResponse{}, nil
}

func (s *SessionServer) channels(field string, chs []string) error {
	for i, ch := range chs {
		if err := validChannel(fmt.Sprintf("%s[%d]", field, i), ch); err != nil {
			return err
		}
		if _, err := s.h.optionsFor(ch); err != nil {
			return fmt.Errorf("channel %q: %w", ch, err)
		}
	}
	return nil
}

// Join implements pb.SessionServiceServer.
func (s *SessionServer) Join(ctx context.Context, req *pb.JoinRequest) (*pb.JoinResponse, error) {
	sess := s.h.reg.get(req.SessionId)
	if sess == nil {
		return nil, s.h.toStatus(fmt.Errorf("session %q: %w", req.SessionId, errSessionNotFound))
	}
	if err := s.channels("channels", req.Channels); err != nil {
		return nil, s.h.toStatus(err)
	}
	for _, ch := range req.Channels {
		if err := mayRead(ch, sessionReader(sess.info, true)); err != nil {
			return nil, s.h.toStatus(err)
		}
	}
	return &pb.JoinResponse{}, s.h.toStatus(s.h.join(ctx, sess, req.Channels))
}

// Leave implements pb.SessionServiceServer.
func (s *SessionServer) Leave(ctx context.Context, req *pb.LeaveRequest) (*pb.LeaveResponse, error) {
	sess := s.h.reg.get(req.SessionId)
	if sess == nil {
		return nil, s.h.toStatus(fmt.Errorf("session %q: %w", req.SessionId, errSessionNotFound))
	}
	return &pb.LeaveResponse{}, s.h.toStatus(s.h.leave(ctx, sess, req.Channels))
}

// Control implements pb.SessionServiceServer.
func (s *SessionServer) Control(req *pb.ControlRequest, srv pb.SessionService_ControlServer) error {
	if req.Edge == "" {
		return s.h.toStatus(invalid("edge", "edge is required"))
	}
	e := s.h.reg.openEdge(req.Edge)
	defer s.h.reg.closeEdge(req.Edge, e)
	// Headers go out now, so the edge knows the stream is open before any order.
	if err := srv.SendHeader(nil); err != nil {
		return err
	}
	ctx := srv.Context()
	for {
		select {
		case <-ctx.Done():
			return s.h.toStatus(ctx.Err())
		case <-s.h.closing:
			return errShutdown
		case <-e.done:
			return errReplaced
		case o := <-e.orders:
			if err := srv.Send(o); err != nil {
				return err
			}
		}
	}
}
