package nkservice

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-hub/switchboard/bridge/fanout"
	"github.com/switchboard-hub/switchboard/bridge/wsconn"
	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// Close codes and reasons: the fatal cases of §4.
const (
	closeBadFrame      = websocket.StatusUnsupportedData
	reasonNotJSON      = "invalid JSON"
	reasonNoEnvelope   = "unrecognised envelope"
	closePolicy        = websocket.StatusPolicyViolation
	reasonNoAnswer     = "no answer to a server request in time"
	reasonSessionStop  = "session stopped"
	reasonBadSession   = "invalid or duplicated session id"
	reasonUnsubscribed = "unsubscribed by the server"
	reasonTooMany      = "too many unanswered server requests"
	closeIdle          = websocket.StatusNormalClosure
	reasonIdle         = "idle timeout"
	closeShutdown      = websocket.StatusGoingAway
	reasonShutdown     = "server shutting down"
	closeUnavailable   = websocket.StatusTryAgainLater
	reasonUnavailable  = "core unavailable"
)

// Limits of one socket.
const (
	// maxSubscriptions bounds explicit subscriptions (nkservice had none).
	maxSubscriptions = 256
	// drainTime: a previous upstream group keeps delivering this long after
	// a move, so that nothing in flight is lost; duplicates are dropped by
	// event id meanwhile and for dedupTail deliveries after.
	drainTime = 2 * time.Second
	dedupTail = 1024
)

// subState is a socket's subscriptions, replaced whole on every change so
// that deliveries read it without a lock.
type subState struct {
	auto     []Sub // the user's and the session's own events (§2)
	explicit []Sub // event/subscribe, in order
}

// match returns the first subscription an event matches.
func (st *subState) match(ev *pb.Event) (Sub, bool) {
	for _, list := range [2][]Sub{st.auto, st.explicit} {
		for _, s := range list {
			if s.Matches(ev) {
				return s, true
			}
		}
	}
	return Sub{}, false
}

// socket is one NkSERVICE websocket.
type socket struct {
	h    *Handler
	conn *wsconn.Conn
	log  *slog.Logger

	// Read loop only.
	who       identity
	loggedIn  bool
	failures  int    // failed logins, for the back-off
	wantKey   string // fanout key of the current upstream group
	closeSess func()
	closing   bool

	session string // set once at login, before any delivery
	subs    atomic.Pointer[subState]
	out     outstanding
	idle    idleTimer
	pings   pinger

	mu    sync.Mutex
	cur   *member
	dedup map[string]struct{}
	left  int // deliveries still checked against dedup
	ended bool
}

func newSocket(h *Handler, conn *wsconn.Conn) *socket {
	s := &socket{h: h, conn: conn, log: h.log}
	s.subs.Store(&subState{})
	s.out = outstanding{op: h.opts.ReplyTimeout, ack: h.opts.AckTimeout, max: h.opts.MaxPending,
		expire: func() {
			s.log.Info("websocket closed", "reason", reasonNoAnswer)
			s.conn.Close(closePolicy, reasonNoAnswer)
		}}
	conn.OnWritten(func(n uint64) {
		s.out.wrote(n)
		s.idle.touch()
	})
	return s
}

// serve reads frames until the connection ends.
func (s *socket) serve(ctx context.Context) {
	defer s.end()
	stop := context.AfterFunc(ctx, func() { s.conn.Close(closeShutdown, reasonShutdown) })
	defer stop()
	s.idle.start(s.h.opts.IdleTimeout, func() {
		s.log.Info("websocket closed", "reason", reasonIdle)
		s.conn.Close(closeIdle, reasonIdle)
	})
	for {
		frame, err := s.conn.Read(s.conn.Context())
		if err != nil {
			s.log.Debug("websocket ended", "err", err)
			return
		}
		s.idle.touch()
		if !s.closing {
			s.handle(ctx, frame)
		}
	}
}

// end leaves the upstream group and closes the session.
func (s *socket) end() {
	s.idle.stop()
	s.pings.stop()
	// Relayed commands still waiting get their answer now, not at the
	// caller's timeout.
	stopped := mustJSON(errorData{Code: errSessionStop.Code, Error: errSessionStop.Text})
	for _, p := range s.out.stop() {
		if p.onReply != nil {
			p.onReply(Frame{Kind: KindReply, Result: "error", Data: stopped})
		}
	}
	s.mu.Lock()
	s.ended = true
	m := s.cur
	s.cur = nil
	s.mu.Unlock()
	if m != nil {
		m.retire()
	}
	if s.closeSess != nil {
		s.closeSess()
	}
}

// fatal answers a frame nkservice would have crashed on, then closes (§4).
func (s *socket) fatal(reply []byte, code websocket.StatusCode, reason string) {
	s.closing = true
	if reply != nil {
		s.conn.Send(reply)
	}
	s.log.Info("websocket closed", "reason", reason)
	s.conn.CloseAfterFlush(code, reason)
}

// handle dispatches one client frame.
func (s *socket) handle(ctx context.Context, b []byte) {
	f, err := Parse(b)
	var reqErr *RequestError
	switch {
	case errors.As(err, &reqErr):
		s.conn.Send(encodeError(reqErr.TID, errSyntax(reqErr.Msg)))
		return
	case errors.Is(err, ErrNotJSON):
		s.fatal(encodeError(nil, errSyntax(reasonNotJSON)), closeBadFrame, reasonNotJSON)
		return
	case err != nil:
		s.fatal(encodeError(nil, errSyntax(reasonNoEnvelope)), closeBadFrame, reasonNoEnvelope)
		return
	}
	switch f.Kind {
	case KindAck:
		if tid, ok := serverTID(f.TID); ok {
			s.out.acked(tid)
		}
	case KindReply:
		if tid, ok := serverTID(f.TID); ok {
			if p := s.out.answered(tid); p != nil && p.onReply != nil {
				p.onReply(f)
			}
		}
	case KindRequest:
		s.request(ctx, f)
	}
}

// reply sends the answer to a client request.
func (s *socket) reply(tid json.RawMessage, data json.RawMessage, e *Error) {
	if e != nil {
		s.conn.Send(encodeError(tid, e))
		return
	}
	s.conn.Send(encodeOK(tid, data))
}

// ask sends a server request; onReply runs on the read loop with the
// client's answer. It reports false when the socket has too many requests
// unanswered: it is then closed as a slow consumer.
func (s *socket) ask(class, subclass, cmd string, data json.RawMessage, onReply func(Frame)) bool {
	return s.issue(onReply, func(tid uint64) []byte { return encodeRequest(class, subclass, cmd, tid, data) })
}

// issue sends a server request made by frame with the next tid.
func (s *socket) issue(onReply func(Frame), frame func(tid uint64) []byte) bool {
	sent, full := s.out.issue(onReply, frame, s.conn.SendSeq)
	if full {
		s.log.Info("websocket closed", "reason", reasonTooMany)
		s.conn.Close(closePolicy, reasonTooMany)
	}
	return sent
}

// ping sends core/ping (§3.4); the answer only has to come in time.
func (s *socket) ping() {
	s.ask(ClassCore, defaultSubject, "ping", s.h.pingData, nil)
}

// deliver sends one event, if a subscription of the socket matches it.
// data is the event's shared data object (nil: encode it here).
func (s *socket) deliver(ev *pb.Event, data []byte) {
	sub, ok := s.subs.Load().match(ev)
	if !ok || ev.GetKind() != pb.EventKind_EVENT_KIND_UNSPECIFIED {
		return
	}
	if !s.admit(ev.GetId()) {
		return
	}
	switch {
	case sub.Body != nil:
		data = withBody(ev, sub.Body)
	case data == nil:
		var err error
		if data, err = encodeEventData(ev); err != nil {
			s.log.Error("event not sent", "err", err)
			return
		}
	}
	s.issue(nil, func(tid uint64) []byte { return encodeEvent(tid, data) })
}

// admit drops an event delivered twice while upstream groups overlap.
func (s *socket) admit(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return false
	}
	if s.dedup == nil || id == "" {
		return true
	}
	if _, dup := s.dedup[id]; dup {
		return false
	}
	s.dedup[id] = struct{}{}
	if s.left--; s.left <= 0 {
		s.dedup = nil
	}
	return true
}

// resubscribe moves the socket to the upstream group of its explicit
// subscriptions (one filter each). The new group is joined before the old
// one drains and is left.
func (s *socket) resubscribe(ctx context.Context) error {
	explicit := s.subs.Load().explicit
	var req *pb.SubscribeRequest
	key := ""
	if len(explicit) > 0 {
		req = &pb.SubscribeRequest{Shared: true}
		for _, sub := range explicit {
			req.Filters = append(req.Filters, sub.Filter())
		}
		key = fanout.FilterSetKey(req.Filters)
	}
	if key == s.wantKey {
		return nil
	}
	var next *member
	if req != nil {
		next = &member{s: s}
		cancel, err := s.h.fan.Subscribe(ctx, Face, key, req, encodeEventData, next)
		if err != nil {
			return err
		}
		next.cancel = cancel
	}
	s.mu.Lock()
	old := s.cur
	s.cur = next
	if old != nil && next != nil {
		s.dedup, s.left = map[string]struct{}{}, dedupTail
	}
	s.mu.Unlock()
	s.wantKey = key
	if old != nil {
		time.AfterFunc(drainTime, old.retire)
	}
	return nil
}

// member is the socket in one fan-out group.
type member struct {
	s       *socket
	cancel  func()
	retired atomic.Bool
}

// Deliver implements fanout.Sink.
func (m *member) Deliver(ev *pb.Event, frame []byte) {
	if !m.retired.Load() {
		m.s.deliver(ev, frame)
	}
}

// UpstreamClosed implements fanout.Sink: the socket would receive nothing
// more, so it is closed; the client logs in again.
func (m *member) UpstreamClosed(err error) {
	m.s.mu.Lock()
	live := m.s.cur == m
	m.s.mu.Unlock()
	if live {
		m.s.log.Info("websocket closed", "reason", reasonUnavailable, "err", err)
		m.s.conn.Close(closeUnavailable, reasonUnavailable)
	}
}

func (m *member) retire() {
	m.retired.Store(true)
	if m.cancel != nil {
		m.cancel()
	}
}
