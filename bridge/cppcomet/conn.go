package cppcomet

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"sync"

	"github.com/coder/websocket"

	"github.com/switchboard-hub/switchboard/bridge/control"
	"github.com/switchboard-hub/switchboard/bridge/wsconn"
	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/access"
)

// Close reasons (sent only where the close is a clean one: the JS client
// does not reconnect after a clean close, so every close that should be
// followed by a reconnect drops TCP instead, as comet-server always does;
// a shutdown too, README "Operations").
const (
	reasonDisconnect = "disconnected by the server"
	maxReasonLen     = 123 // longest close reason a close frame carries
)

// maxPending bounds the directed events held for a connection between its
// registration and its serverInfo; the window is one round trip long.
const maxPending = 256

// socket is one comet connection.
type socket struct {
	h          *Handler
	ws         *wsconn.Conn
	params     Params
	gen        Generation
	tenant     string
	authorized bool
	user       string // decimal user id when authorized, else ""
	userID     int64  // 0 when anonymous
	session    string // core session id, set once Connect returned

	// mu guards the serverInfo gate: directed events that arrive before
	// serverInfo has been sent wait in pending (§3.2: serverInfo first).
	mu      sync.Mutex
	ready   bool
	pending [][]byte

	// subMu serializes changes of the pipe set: the read loop, control
	// orders and the teardown.
	subMu sync.Mutex
	subs  map[string]func() // pipe → fan-out cancel
	ended bool              // teardown ran: no new subscriptions
}

func newSocket(h *Handler, ws *wsconn.Conn, p Params) *socket {
	return &socket{
		h:      h,
		ws:     ws,
		params: p,
		gen:    p.Generation(),
		tenant: p.Tenant(),
		subs:   make(map[string]func()),
	}
}

// rpcContext bounds one call to the core; it outlives the connection, so
// the teardown's calls still run after the socket has gone.
func (s *socket) rpcContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(s.ws.Context()), rpcTimeout)
}

// serve authenticates, registers the session, sends serverInfo and queued
// messages, then runs the read loop. life ends when the server shuts down.
func (s *socket) serve(life context.Context) {
	log := s.h.log.With("user", s.params.UserID, "dev", s.params.DevID)
	// On shutdown a close frame, 1001 "server shutting down" (README
	// "Operations"); the JS client reconnects, to this node when it is
	// back or to another one.
	stop := context.AfterFunc(life, s.closeShutdown)
	defer stop()

	ctx, cancel := s.rpcContext()
	method, err := s.h.auth.authenticate(ctx, s.params)
	cancel()
	if err != nil {
		log.Warn("auth hash check failed; connection stays anonymous", "err", err)
	}
	if method != loginNone {
		s.authorized = true
		s.userID = s.params.UserID
		s.user = strconv.FormatInt(s.userID, 10)
	}

	if s.authorized {
		s.recordSeen()
	}
	// The core announces the session, and the user's coming online, to
	// every face and node (user_status_<id> pipes, §3.6).
	ctx, cancel = s.rpcContext()
	resp, closeSession, err := s.h.router.Connect(ctx, &pb.Session{
		User:   s.user,
		Tenant: s.tenant,
		Face:   Face,
		Client: s.params.UUID,
	}, s, control.DrainQueue()) // comet shows queued `msg` events after login (§3.2, §3.5)
	cancel()
	if err != nil {
		log.Error("session connect failed", "err", err)
		s.ws.CloseNow()
		drain(s.ws)
		return
	}
	s.session = resp.GetSession().GetId()
	defer s.teardown(closeSession)

	s.ws.Send(encodeServerInfo(s.authorized, s.serverInfoHash(method, log), s.h.server, s.gen, s.h.now()))
	for _, ev := range resp.GetQueued() {
		s.ws.Send(encodeDirected(ev, true, s.gen, s.h.now()))
	}
	s.setReady()
	s.readLoop()
}

// serverInfoHash is serverInfo's `data`: the user's auth hash. After a JWT
// login the hash is issued (or read) through UserService, so the client
// can reconnect with it once the token has expired (§3.2).
func (s *socket) serverInfoHash(method loginMethod, log *slog.Logger) string {
	switch method {
	case loginHash:
		return s.params.Session
	case loginJWT:
		ctx, cancel := s.rpcContext()
		defer cancel()
		r, err := s.h.users.IssueAuthHash(ctx, &pb.IssueAuthHashRequest{Tenant: s.tenant, User: s.user})
		if err != nil {
			log.Warn("issuing the auth hash failed", "err", err)
			return ""
		}
		return r.GetHash()
	}
	return ""
}

// readLoop reads frames until the connection ends. Commands run one after
// the other, so one client can only ever slow down itself.
func (s *socket) readLoop() {
	for {
		frame, err := s.ws.Read(s.ws.Context())
		if err != nil {
			return
		}
		cmd, err := ParseCommand(frame)
		var perr *ProtocolError
		switch {
		case errors.Is(err, ErrUnknownCommand):
			// comet-server hangs up without a word (§3.3).
			s.ws.CloseNow()
		case errors.As(err, &perr):
			s.sendError(perr)
		case err == nil:
			s.execute(cmd)
		}
	}
}

// sendError sends a protocol error, and hangs up when the error says so.
func (s *socket) sendError(perr *ProtocolError) {
	s.ws.Send(encodeError(perr, s.gen, s.h.now()))
	if perr.Close {
		s.ws.CloseNow()
	}
}

// send queues one reply frame.
func (s *socket) send(frame []byte) { s.ws.Send(frame) }

// setReady opens the gate after serverInfo: held directed events follow.
func (s *socket) setReady() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.pending {
		s.ws.Send(f)
	}
	s.pending = nil
	s.ready = true
}

// sendDirected queues a directed event, or holds it until serverInfo.
func (s *socket) sendDirected(frame []byte) {
	s.mu.Lock()
	if !s.ready {
		if len(s.pending) < maxPending {
			s.pending = append(s.pending, frame)
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		s.ws.CloseNow()
		return
	}
	s.mu.Unlock()
	s.ws.Send(frame)
}

// teardown ends everything the connection started: subscriptions and the
// session. Closing the session is what the core announces as the leaves of
// its track_ pipes and, for the user's last session, as offline.
func (s *socket) teardown(closeSession func()) {
	s.subMu.Lock()
	s.ended = true
	pipes := slices.Sorted(maps.Keys(s.subs))
	// The session's Close removes its presence everywhere: no Leave here.
	s.dropLocked(pipes, false)
	s.subMu.Unlock()
	if s.authorized {
		s.recordSeen() // before the session goes: offline comes with a last-seen time
	}
	closeSession()
}

// Disconnect implements control.Handler: the server ends the connection.
// The close is a clean one, so the JS client does not reconnect.
func (s *socket) Disconnect(reason string) {
	if reason == "" {
		reason = reasonDisconnect
	}
	if len(reason) > maxReasonLen {
		reason = reason[:maxReasonLen]
	}
	s.ws.Close(websocket.StatusPolicyViolation, reason)
}

// Unsubscribe implements control.Handler: drop one pipe ("" = all). It
// must not block the control stream, so the work runs on its own.
func (s *socket) Unsubscribe(channel string) {
	go s.unsubscribeOrder(channel)
}

// Deliver implements control.Handler: a directed event (§3.5 personal
// message), shown on its channel (`msg` unless the sender named another).
func (s *socket) Deliver(ev *pb.Event) {
	s.sendDirected(encodeDirected(ev, false, s.gen, s.h.now()))
}

// pipeSink is one socket's membership in a pipe's fan-out group.
type pipeSink struct{ s *socket }

// Deliver implements fanout.Sink. The sender never receives its own
// web_pipe2 message (§3.3, §6.4): the publisher's client is its session.
func (k pipeSink) Deliver(ev *pb.Event, frame []byte) {
	if len(frame) == 0 || ev.GetPublisher().GetClient() == k.s.session {
		return
	}
	k.s.ws.Send(frame)
}

// ReadsAs implements fanout.Reader: the shared stream delivers events of
// limited pipes only to connections the core's audience admits.
func (k pipeSink) ReadsAs() access.Reader { return k.s.reader() }

// closeShutdown ends the socket when the process stops: TCP is dropped
// without a close frame. CometServerApi.js reconnects only after a close
// that was not clean (its onclose gives up when event.wasClean), so this is
// the close after which pages come back once the server (or another node)
// answers again.
func (s *socket) closeShutdown() { s.ws.CloseNow() }

// UpstreamClosed implements fanout.Sink: without its stream the pipe is
// dead, so the connection is dropped and the client reconnects. That holds
// for a stream that ended because events were lost (DATA_LOSS, README
// "Operations"): the messages before the loss are written first, then TCP
// is dropped without a close frame, the one close after which
// CometServerApi.js reconnects; the page resyncs with pipe_log.
func (k pipeSink) UpstreamClosed(err error) {
	if k.s.h.deps.Lifetime().Err() != nil {
		k.s.closeShutdown() // the stream ended because the process stops
		return
	}
	if eventsLost(err) {
		k.s.h.log.Warn("events lost upstream; dropping connection", "session", k.s.session, "err", err)
	} else {
		k.s.h.log.Warn("upstream stream ended; dropping connection", "session", k.s.session, "err", err)
	}
	k.s.ws.CloseNow()
}

// reader is on whose behalf the connection reads: its user once the
// credentials were verified, else a guest (the core's channel rules decide
// what each may read; package access).
func (s *socket) reader() access.Reader {
	return access.Reader{User: s.user, Authenticated: s.authorized}
}

// principal is reader as the on_behalf_of of a read call.
func (s *socket) principal() *pb.Principal { return s.reader().Principal() }
