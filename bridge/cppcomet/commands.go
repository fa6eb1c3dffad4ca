package cppcomet

import (
	"cmp"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-hub/switchboard/bridge/fanout"
	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// pipeLogLimit is how many stored messages pipe_log replays (§3.3).
const pipeLogLimit = 99

// execute runs one command against the core and answers the client.
func (s *socket) execute(cmd Command) {
	var perr *ProtocolError
	switch c := cmd.(type) {
	case Subscription:
		perr = s.subscription(c)
	case WebPipe:
		perr = s.webPipe(c)
	case PipeLog:
		perr = s.pipeLog(c)
	case PipeCount:
		perr = s.pipeCount(c)
	case TrackPipeUsers:
		perr = s.trackPipeUsers(c)
	case UserStatus:
		perr = s.userStatus(c)
	case UserData:
		perr = s.userData(c)
	case Ignored:
		// statistics, cgi_call, CometQL_call: accepted, nothing to do (§3.3).
	}
	if perr != nil {
		s.sendError(perr)
	}
}

// subscription replaces the pipe set (§3.3). Pipes kept stay subscribed
// without a gap; only real changes are joined, left and announced.
func (s *socket) subscription(c Subscription) *ProtocolError {
	want := c.Pipes
	s.subMu.Lock()
	defer s.subMu.Unlock()
	if s.ended {
		return nil
	}
	var gone []string
	for p := range s.subs {
		if !slices.Contains(want, p) {
			gone = append(gone, p)
		}
	}
	slices.Sort(gone)
	s.dropLocked(gone, true)

	var perr *ProtocolError
	var added []string
	for _, p := range want {
		if _, ok := s.subs[p]; ok {
			continue
		}
		ok, err := s.subscribeLocked(p)
		if err != nil {
			perr = err
		}
		if ok {
			added = append(added, p)
		}
	}
	if len(added) > 0 {
		// The core announces the joins (track_ subscriptions, §3.6).
		ctx, cancel := s.rpcContext()
		_, err := s.h.deps.Sessions.Join(ctx, &pb.JoinRequest{SessionId: s.session, Channels: added})
		cancel()
		if err != nil {
			s.h.log.Warn("presence join failed", "session", s.session, "err", err)
		}
	}
	if c.TooMany {
		return &ProtocolError{Text: textTooMany, Shape: shapeCode}
	}
	return perr
}

// subscribeLocked joins the pipe's fan-out group (the pipe, and the
// lifecycle events it shows: pipeFilters); ok tells whether it did. A
// pipe the core does not let this connection read (private_* for a guest)
// is skipped silently, as comet-server does (and, unlike it, the face goes
// on with the next name, §6.9).
func (s *socket) subscribeLocked(pipe string) (ok bool, perr *ProtocolError) {
	filters := pipeFilters(s.tenant, pipe)
	ctx, cancel := s.rpcContext()
	defer cancel()
	stop, err := s.h.fan.Subscribe(ctx, Face, groupKey(filters, s.gen),
		&pb.SubscribeRequest{Filters: filters}, s.h.encoders[s.gen], pipeSink{s})
	if errors.Is(err, fanout.ErrNotReadable) {
		return false, nil
	}
	if err != nil {
		s.h.log.Warn("subscribe failed", "pipe", pipe, "err", err)
		return false, statusError(err, shapeMessages)
	}
	s.subs[pipe] = stop
	return true, nil
}

// dropLocked ends the pipes' subscriptions: the fan-out memberships go,
// then (when leave is set) the presence, which the core announces on
// track_ pipes.
func (s *socket) dropLocked(pipes []string, leave bool) {
	if len(pipes) == 0 {
		return
	}
	for _, p := range pipes {
		if stop := s.subs[p]; stop != nil {
			stop()
		}
		delete(s.subs, p)
	}
	if !leave {
		return
	}
	ctx, cancel := s.rpcContext()
	defer cancel()
	if _, err := s.h.deps.Sessions.Leave(ctx, &pb.LeaveRequest{SessionId: s.session, Channels: pipes}); err != nil {
		s.h.log.Warn("presence leave failed", "session", s.session, "err", err)
	}
}

// unsubscribeOrder carries out a control order (HubService.Unsubscribe).
func (s *socket) unsubscribeOrder(channel string) {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	if s.ended {
		return
	}
	var pipes []string
	for p := range s.subs {
		if channel == "" || p == channel {
			pipes = append(pipes, p)
		}
	}
	slices.Sort(pipes)
	s.dropLocked(pipes, true)
}

// webPipe publishes a message and sends the sender its delivery report.
func (s *socket) webPipe(c WebPipe) *ProtocolError {
	if strings.HasPrefix(c.Pipe, "webauth_") && !s.authorized {
		return &ProtocolError{Text: textWebAuthAnon}
	}
	ctx, cancel := s.rpcContext()
	defer cancel()
	if _, err := s.h.deps.Hub.Publish(ctx, &pb.PublishRequest{Event: s.webPipeEvent(c)}); err != nil {
		return statusError(err, shapeMessages)
	}
	s.send(encodeAnswerTo(c.Pipe, c.Message, s.otherSubscribers(c.Pipe), s.gen, s.h.now()))
	return nil
}

// otherSubscribers counts the connections, on every node and face, that
// the message was sent to: the pipe's presence less the sender. -1 when
// the pipe keeps no presence or the count failed.
func (s *socket) otherSubscribers(pipe string) int64 {
	ctx, cancel := s.rpcContext()
	defer cancel()
	r, err := s.h.deps.Hub.PresenceStats(ctx, &pb.PresenceStatsRequest{Tenant: s.tenant, Channel: pipe, OnBehalfOf: s.principal()})
	if err != nil {
		return -1
	}
	n := int64(r.GetNumSessions())
	s.subMu.Lock()
	_, self := s.subs[pipe]
	s.subMu.Unlock()
	if self && n > 0 {
		n--
	}
	return n
}

// pipeLog replays the newest stored messages, oldest first (§3.3). A pipe
// without history gets no reply, as in comet-server.
func (s *socket) pipeLog(c PipeLog) *ProtocolError {
	ctx, cancel := s.rpcContext()
	defer cancel()
	r, err := s.h.deps.Hub.History(ctx, &pb.HistoryRequest{
		Tenant: s.tenant, Channel: c.Pipe, Limit: pipeLogLimit, Reverse: true, OnBehalfOf: s.principal(),
	})
	if noHistory(err) {
		return nil
	}
	if err != nil {
		return statusError(err, shapeMessages)
	}
	events := r.GetEvents()
	now := s.h.now()
	for i := len(events) - 1; i >= 0; i-- {
		ev := events[i]
		if ev.GetKind() != pb.EventKind_EVENT_KIND_UNSPECIFIED {
			continue // join/leave announcements are not messages of the log
		}
		s.send(encodeHistory(ev, c.Marker, s.gen, now))
	}
	return nil
}

// pipeCount answers how many connections are subscribed to a pipe.
func (s *socket) pipeCount(c PipeCount) *ProtocolError {
	ctx, cancel := s.rpcContext()
	defer cancel()
	r, err := s.h.deps.Hub.PresenceStats(ctx, &pb.PresenceStatsRequest{Tenant: s.tenant, Channel: c.Pipe, OnBehalfOf: s.principal()})
	if err != nil {
		return statusError(err, shapeMessages)
	}
	s.send(encodePipeCount(int64(r.GetNumSessions()), c.Marker, s.gen, s.h.now()))
	return nil
}

// trackPipeUsers lists the connections subscribed to a track_ pipe.
func (s *socket) trackPipeUsers(c TrackPipeUsers) *ProtocolError {
	ctx, cancel := s.rpcContext()
	defer cancel()
	r, err := s.h.deps.Hub.Presence(ctx, &pb.PresenceRequest{Tenant: s.tenant, Channel: c.Pipe, OnBehalfOf: s.principal()})
	if err != nil {
		return statusError(err, shapeUsers)
	}
	users := make([]trackUser, 0, len(r.GetSessions()))
	for _, sess := range r.GetSessions() {
		users = append(users, trackUser{UserID: cometUserID(sess.GetUser()), UUID: sess.GetClient()})
	}
	// Presence comes in no particular order; sorted, replies are stable.
	slices.SortFunc(users, func(a, b trackUser) int {
		if c := cmp.Compare(a.UserID, b.UserID); c != 0 {
			return c
		}
		return strings.Compare(a.UUID, b.UUID)
	})
	s.send(encodeTrackUsers(users, c.Marker, s.gen, s.h.now()))
	return nil
}

// userStatus answers how long ago a user was online: 0 while online, -1
// when never seen.
func (s *socket) userStatus(c UserStatus) *ProtocolError {
	ctx, cancel := s.rpcContext()
	defer cancel()
	r, err := s.h.users.UserStatus(ctx, &pb.UserStatusRequest{Tenant: s.tenant, User: strconv.FormatInt(c.UserID, 10)})
	if err != nil {
		return statusError(err, shapeMessages)
	}
	now := s.h.now()
	since := int64(-1)
	switch {
	case r.GetOnline():
		since = 0
	case r.GetLastSeen() != nil:
		since = max(int64(now.Sub(r.GetLastSeen().AsTime())/time.Second), 0)
	}
	s.send(encodeUserStatus(c.UserID, since, s.gen, now))
	return nil
}

// userData answers the data string a backend stored for a user.
func (s *socket) userData(c UserData) *ProtocolError {
	ctx, cancel := s.rpcContext()
	defer cancel()
	r, err := s.h.users.GetUserData(ctx, &pb.GetUserDataRequest{Tenant: s.tenant, User: strconv.FormatInt(c.UserID, 10)})
	if err != nil {
		return statusError(err, shapeUserData)
	}
	s.send(encodeUserData(c.UserID, r.GetData(), c.Marker, s.gen, s.h.now()))
	return nil
}

// recordSeen records that the user is online now (UserService), so that
// user_status answers how long ago the user was last seen (§3.6).
func (s *socket) recordSeen() {
	ctx, cancel := s.rpcContext()
	defer cancel()
	if _, err := s.h.users.RecordSeen(ctx, &pb.RecordSeenRequest{Tenant: s.tenant, User: s.user}); err != nil {
		s.h.log.Warn("record seen failed", "user", s.user, "err", err)
	}
}
