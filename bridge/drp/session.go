package drp

import (
	"context"
	"sync"
	"time"

	"github.com/coder/websocket"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// Close codes for orders from the core (HubService.Disconnect and
// Unsubscribe of every channel).
const (
	closeDisconnected  = websocket.StatusPolicyViolation
	reasonDisconnected = "disconnected by the server"
)

// sessionTimeout bounds the presence calls a socket makes.
const sessionTimeout = 5 * time.Second

// session makes a socket a core session, so that presence, Disconnect and
// Unsubscribe of its user work as on every face. DRP has nowhere to show
// offline messages, so the user's queue is left for another face.
type session struct {
	s     *socket
	id    string
	close func()

	mu       sync.Mutex
	joined   map[string]bool // Types in presence
	excluded map[string]bool // Types taken away by Unsubscribe
}

// connect registers the socket with the core; without a control router (a
// face built for tests alone) the socket works without a session.
func (s *socket) connect(ctx context.Context) error {
	if s.h.deps.Control == nil {
		return nil
	}
	ss := &session{s: s, joined: map[string]bool{}}
	resp, closeFn, err := s.h.deps.Control.Connect(ctx, &pb.Session{User: s.id.User, Face: Face}, ss)
	if err != nil {
		return err
	}
	ss.id, ss.close = resp.GetSession().GetId(), closeFn
	s.sess = ss
	return nil
}

// Disconnect implements control.Handler.
func (ss *session) Disconnect(reason string) {
	if reason == "" {
		reason = reasonDisconnected
	}
	ss.s.conn.Close(closeDisconnected, reason)
}

// Unsubscribe implements control.Handler: events of the Type stop; with no
// Type named, the socket is closed.
func (ss *session) Unsubscribe(channel string) {
	if channel == "" {
		ss.s.conn.Close(closeDisconnected, "unsubscribed by the server")
		return
	}
	ss.mu.Lock()
	if ss.excluded == nil {
		ss.excluded = map[string]bool{}
	}
	ss.excluded[channel] = true
	ss.mu.Unlock()
}

// Deliver implements control.Handler: a directed event goes out when the
// socket's filters match it.
func (ss *session) Deliver(ev *pb.Event) {
	if f := ss.s.current.Load(); f == nil || !matchAny(*f, ev) || ss.isExcluded(ev.GetChannel()) {
		return
	}
	frame, err := encodeEvent(ev)
	if err != nil {
		ss.s.log.Error("directed event not sent", "err", err)
		return
	}
	ss.s.conn.Send(frame)
}

func (ss *session) isExcluded(channel string) bool {
	if ss == nil {
		return false
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.excluded[channel]
}

// syncPresence puts the socket in the presence of the exact Types its
// filters name, and takes it out of those no longer named.
func (ss *session) syncPresence(parsed []Filter) {
	if ss == nil {
		return
	}
	want := map[string]bool{}
	for _, f := range parsed {
		if !f.CanMatch() || f.Type.Any {
			continue
		}
		for _, t := range f.Type.Values {
			want[t] = true
		}
	}
	ss.mu.Lock()
	var join, leave []string
	for t := range want {
		if !ss.joined[t] {
			join = append(join, t)
		}
	}
	for t := range ss.joined {
		if !want[t] {
			leave = append(leave, t)
		}
	}
	ss.joined = want
	ss.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), sessionTimeout)
	defer cancel()
	if len(leave) > 0 {
		if _, err := ss.s.h.deps.Sessions.Leave(ctx, &pb.LeaveRequest{SessionId: ss.id, Channels: leave}); err != nil {
			ss.s.log.Debug("presence leave failed", "err", err)
		}
	}
	if len(join) > 0 {
		// A Type the core refuses (an unknown namespace) only costs presence.
		if _, err := ss.s.h.deps.Sessions.Join(ctx, &pb.JoinRequest{SessionId: ss.id, Channels: join}); err != nil {
			ss.s.log.Debug("presence join failed", "err", err)
		}
	}
}

// end closes the session with the core.
func (ss *session) end() {
	if ss != nil && ss.close != nil {
		ss.close()
	}
}
