package hub

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/services/engine"
)

// DirectoryChannel is the reserved channel whose presence, kept by the
// engine cluster-wide, lists every connected session of a tenant. The hub
// puts each session in it on Connect and takes it out on Close; presence
// entries of a node that died expire with the node.
const DirectoryChannel = "sys:sessions"

// directory is this node's part of DirectoryService: the requests waiting
// for another node, the subscriptions recorded for local sessions and the
// GELF sink.
type directory struct {
	waiting waiters
	gelf    *gelfSink // nil without gelf_addr

	mu   sync.Mutex
	subs map[string][]*pb.SessionSubscription // by session id
}

func (d *directory) subscriptions(id string) []*pb.SessionSubscription {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.subs[id]
}

func (d *directory) setSubscriptions(id string, subs []*pb.SessionSubscription) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.subs == nil {
		d.subs = map[string][]*pb.SessionSubscription{}
	}
	if len(subs) == 0 {
		delete(d.subs, id)
		return
	}
	d.subs[id] = subs
}

// listed puts a new session in the directory. The directory is
// cluster-wide, so a session id that a live session on any node holds is
// refused (errSessionExists), atomically.
func (h *Hub) listed(ctx context.Context, info *pb.Session) error {
	ok, err := h.eng.ClaimPresence(ctx, info.Tenant, DirectoryChannel, info)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("session %q: %w", info.Id, errSessionExists)
	}
	return nil
}

// unlisted takes a closed session out of the directory.
func (h *Hub) unlisted(ctx context.Context, info *pb.Session) {
	h.dir.setSubscriptions(info.Id, nil)
	if err := h.eng.RemovePresence(ctx, info.Tenant, DirectoryChannel, info.Id); err != nil {
		h.log.Warn("session not removed from the directory", "session", info.Id, "err", err)
	}
}

// withoutDirectory drops the directory's channel from a channel list and
// keeps at most limit entries: it is a record, not a channel anyone joined.
func withoutDirectory(chs []*pb.ChannelSummary, limit int) []*pb.ChannelSummary {
	out := chs[:0]
	for _, c := range chs {
		if c.Channel != DirectoryChannel {
			out = append(out, c)
		}
	}
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}

// DirectoryServer implements pb.DirectoryServiceServer.
type DirectoryServer struct {
	pb.UnimplementedDirectoryServiceServer
	h *Hub
}

// DirectoryService returns the hub's DirectoryService implementation.
func (h *Hub) DirectoryService() *DirectoryServer { return &DirectoryServer{h: h} }

// sessions lists a tenant's sessions (of one user when user is set),
// sorted by id.
func (d *DirectoryServer) sessions(ctx context.Context, tenant, user string, byUser bool) ([]*pb.Session, error) {
	if tenant == engine.AllTenants {
		return nil, invalid("tenant", "%q is not a tenant name", tenant)
	}
	all, err := d.h.eng.Presence(ctx, tenant, DirectoryChannel)
	if err != nil {
		return nil, err
	}
	out := all[:0:0]
	for _, s := range all {
		if !byUser || s.User == user {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b *pb.Session) int { return cmp.Compare(a.Id, b.Id) })
	return out, nil
}

// find returns a connected session of the tenant.
func (d *DirectoryServer) find(ctx context.Context, tenant, id string) (*pb.Session, error) {
	if id == "" {
		return nil, invalid("session_id", "session_id is required")
	}
	if s := d.h.reg.get(id); s != nil && s.info.Tenant == tenant {
		return s.info, nil
	}
	all, err := d.sessions(ctx, tenant, "", false)
	if err != nil {
		return nil, err
	}
	if i, ok := slices.BinarySearchFunc(all, id, func(s *pb.Session, id string) int { return cmp.Compare(s.Id, id) }); ok {
		return all[i], nil
	}
	return nil, fmt.Errorf("session %q: %w", id, errSessionNotFound)
}

// ListUsers implements pb.DirectoryServiceServer.
func (d *DirectoryServer) ListUsers(ctx context.Context, req *pb.ListUsersRequest) (*pb.ListUsersResponse, error) {
	all, err := d.sessions(ctx, req.Tenant, "", false)
	if err != nil {
		return nil, d.h.toStatus(err)
	}
	by := map[string]*pb.UserSessions{}
	resp := &pb.ListUsersResponse{}
	for _, s := range all {
		u := by[s.User]
		if u == nil {
			u = &pb.UserSessions{User: s.User}
			by[s.User] = u
			resp.Users = append(resp.Users, u)
		}
		u.Sessions = append(u.Sessions, s)
	}
	slices.SortFunc(resp.Users, func(a, b *pb.UserSessions) int { return cmp.Compare(a.User, b.User) })
	return resp, nil
}

// ListSessions implements pb.DirectoryServiceServer.
func (d *DirectoryServer) ListSessions(ctx context.Context, req *pb.ListSessionsRequest) (*pb.ListSessionsResponse, error) {
	all, err := d.sessions(ctx, req.Tenant, req.User, req.User != "")
	if err != nil {
		return nil, d.h.toStatus(err)
	}
	return &pb.ListSessionsResponse{Sessions: all}, nil
}

// StopSession implements pb.DirectoryServiceServer: every node closes its
// session of that id, if it has it.
func (d *DirectoryServer) StopSession(ctx context.Context, req *pb.StopSessionRequest) (*pb.StopSessionResponse, error) {
	s, err := d.find(ctx, req.Tenant, req.SessionId)
	if err != nil {
		return nil, d.h.toStatus(err)
	}
	reason := req.Reason
	if reason == "" {
		reason = "session stopped"
	}
	c := &engine.Control{Kind: engine.ControlDisconnect, Tenant: req.Tenant, Session: s.Id, Reason: reason}
	if err := d.h.eng.PublishControl(ctx, c); err != nil {
		return nil, d.h.toStatus(err)
	}
	return &pb.StopSessionResponse{Session: s}, nil
}

// SendCommand implements pb.DirectoryServiceServer.
func (d *DirectoryServer) SendCommand(ctx context.Context, req *pb.SendCommandRequest) (*pb.SendCommandResponse, error) {
	h := d.h
	if req.Method == "" {
		return nil, h.toStatus(invalid("method", "method is required"))
	}
	if req.Data != "" && !jsonValid(req.Data) {
		return nil, h.toStatus(invalid("data", "data is not one JSON value"))
	}
	if len(req.Data) > h.opts.MaxPayload {
		return nil, h.toStatus(invalid("data", "data is larger than %d bytes", h.opts.MaxPayload))
	}
	timeout := defaultCommandTimeout
	if t := req.GetTimeout(); t != nil {
		if !t.IsValid() || t.AsDuration() <= 0 || t.AsDuration() > maxCommandTimeout {
			return nil, h.toStatus(invalid("timeout", "timeout must be positive and at most %s", maxCommandTimeout))
		}
		timeout = t.AsDuration()
	}
	s, err := d.find(ctx, req.Tenant, req.SessionId)
	if err != nil {
		return nil, h.toStatus(err)
	}
	order, err := proto.Marshal(&pb.CommandOrder{Method: req.Method, Data: req.Data, Timeout: req.Timeout, From: req.From})
	if err != nil {
		return nil, h.toStatus(err)
	}
	tag, body, err := h.ask(ctx, engine.ControlCommand, req.Tenant, s.Id, order, timeout)
	if err != nil {
		return nil, h.toStatus(err)
	}
	switch tag {
	case replyNoCommands:
		return nil, h.toStatus(errNoCommands)
	case replyUnavailable:
		return nil, h.toStatus(errEdgeUnavailable)
	case replyCommand:
		rep := &pb.ReplyCommandRequest{}
		if err := proto.Unmarshal(body, rep); err != nil {
			return nil, h.toStatus(fmt.Errorf("%w: %w", errBadReply, err))
		}
		if rep.Error != nil {
			return nil, h.toStatus(&commandError{rep.Error})
		}
		return &pb.SendCommandResponse{Data: rep.Data}, nil
	}
	return nil, h.toStatus(fmt.Errorf("%w: tag %d", errBadReply, tag))
}

// SetSubscriptions implements pb.DirectoryServiceServer.
func (d *DirectoryServer) SetSubscriptions(ctx context.Context, req *pb.SetSubscriptionsRequest) (*pb.SetSubscriptionsResponse, error) {
	if d.h.reg.get(req.SessionId) == nil {
		return nil, d.h.toStatus(fmt.Errorf("session %q is not on this node: %w", req.SessionId, errSessionNotFound))
	}
	if len(req.Subscriptions) > maxRecordedSubscriptions {
		return nil, d.h.toStatus(invalid("subscriptions", "more than %d subscriptions", maxRecordedSubscriptions))
	}
	for i, s := range req.Subscriptions {
		if s.Data != "" && !jsonValid(s.Data) {
			return nil, d.h.toStatus(invalid(fmt.Sprintf("subscriptions[%d].data", i), "data is not one JSON value"))
		}
	}
	d.h.dir.setSubscriptions(req.SessionId, req.Subscriptions)
	return &pb.SetSubscriptionsResponse{}, nil
}

// maxRecordedSubscriptions bounds what one session may record.
const maxRecordedSubscriptions = 4096

// ListSubscriptions implements pb.DirectoryServiceServer: from this node's
// record when the session is here, else from the node that holds it.
func (d *DirectoryServer) ListSubscriptions(ctx context.Context, req *pb.ListSubscriptionsRequest) (*pb.ListSubscriptionsResponse, error) {
	s, err := d.find(ctx, req.Tenant, req.SessionId)
	if err != nil {
		return nil, d.h.toStatus(err)
	}
	if d.h.reg.get(s.Id) != nil {
		return &pb.ListSubscriptionsResponse{Subscriptions: d.h.dir.subscriptions(s.Id)}, nil
	}
	tag, body, err := d.h.ask(ctx, engine.ControlQuery, req.Tenant, s.Id, nil, queryTimeout)
	if err != nil {
		return nil, d.h.toStatus(err)
	}
	resp := &pb.ListSubscriptionsResponse{}
	if tag != replySubscriptions {
		return nil, d.h.toStatus(fmt.Errorf("%w: tag %d", errBadReply, tag))
	}
	if err := proto.Unmarshal(body, resp); err != nil {
		return nil, d.h.toStatus(fmt.Errorf("%w: %w", errBadReply, err))
	}
	return resp, nil
}

// WriteLog implements pb.DirectoryServiceServer.
func (d *DirectoryServer) WriteLog(ctx context.Context, req *pb.WriteLogRequest) (*pb.WriteLogResponse, error) {
	h := d.h
	switch {
	case req.Source == "":
		return nil, h.toStatus(invalid("source", "source is required"))
	case req.Message == "":
		return nil, h.toStatus(invalid("message", "message is required"))
	case req.Level < 0 || req.Level > 7:
		return nil, h.toStatus(invalid("level", "level must be 0 to 7"))
	case len(req.Source)+len(req.Message)+len(req.FullMessage)+len(req.Meta) > h.opts.MaxPayload:
		return nil, h.toStatus(invalid("message", "log line is larger than %d bytes", h.opts.MaxPayload))
	}
	meta, err := parseMeta(req.Meta)
	if err != nil {
		return nil, h.toStatus(err)
	}
	s, err := d.find(ctx, req.Tenant, req.SessionId)
	if err != nil {
		return nil, h.toStatus(err)
	}
	line := logLine{
		level: req.Level, source: req.Source, message: req.Message, full: req.FullMessage,
		user: s.User, session: s.Id, meta: meta, time: time.Now(),
	}
	h.writeLog(ctx, line)
	return &pb.WriteLogResponse{}, nil
}
