package drp

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/switchboard-hub/switchboard/bridge/fanout"
	"github.com/switchboard-hub/switchboard/bridge/wsconn"
	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/access"
)

// maxFilters bounds the distinct filter texts one socket may hold. DRP had
// no limit; without one a client could grow a socket's state without end.
// The socket is closed (closeTooManyFilters) on the register beyond it.
const maxFilters = 1024

// drainTime is how long a socket keeps its previous upstream group after
// moving to a new one (fanout.Mover): it bounds how long an event may take
// from the hub to this face.
const drainTime = 2 * time.Second

// socket is one DRP websocket. The read loop owns the filter state; fan-out
// goroutines call deliver concurrently.
type socket struct {
	h    *Handler
	conn *wsconn.Conn
	id   identity
	log  *slog.Logger

	// Read loop only.
	texts   []string          // registered filter texts, distinct, in order
	filters map[string]Filter // the texts that parse (malformed ones never match)
	wantKey string            // fanout.FilterSetKey of the wanted upstream set; "" for none
	closing bool              // the face closed the socket; later frames are dropped
	moves   *rate.Limiter     // Subscribe calls (moveRate)
	// localLogged: filterLocally has logged once for this socket.
	localLogged bool

	// current is the socket's parsed filter set, for members that filter
	// locally (catch-all and draining ones). Written by the read loop.
	current atomic.Pointer[[]Filter]

	sess *session // the socket as a core session; nil without a control router

	// groups holds the socket's upstream group and moves it when the
	// filter set changes (bridge/fanout).
	groups *fanout.Mover
}

func newSocket(h *Handler, conn *wsconn.Conn, id identity) *socket {
	s := &socket{
		h:       h,
		conn:    conn,
		id:      id,
		log:     h.log.With("user", id.User),
		filters: make(map[string]Filter),
		moves:   rate.NewLimiter(moveRate, moveBurst),
	}
	s.groups = h.fan.NewMover(Face, s, drainTime)
	return s
}

// serve reads frames until the connection ends, then leaves the upstream.
// ctx is the server's: when it ends the socket is closed with
// StatusGoingAway.
func (s *socket) serve(ctx context.Context) {
	if err := s.connect(ctx); err != nil {
		s.log.Warn("websocket closed", "reason", reasonUnavailable, "err", err)
		s.closeUnavailable(reasonUnavailable)
		return
	}
	defer s.sess.end()
	defer s.groups.Leave()
	stop := context.AfterFunc(ctx, func() { s.conn.Close(closeShutdown, reasonShutdown) })
	defer stop()
	for {
		// The connection's own context: Read must keep running after a
		// Close to take the peer's close frame (package wsconn).
		frame, err := s.conn.Read(s.conn.Context())
		if err != nil {
			s.log.Debug("websocket ended", "err", err)
			return
		}
		s.handle(frame)
	}
}

// closeUnavailable closes the socket because the hub cannot serve it: 1013,
// or the shutdown close (1001) when the process is stopping, whichever
// noticed first — one close code per cause.
func (s *socket) closeUnavailable(reason string) {
	if s.h.face.Context().Err() != nil {
		s.conn.Close(closeShutdown, reasonShutdown)
		return
	}
	s.conn.Close(closeUnavailable, reason)
}

// Wants implements fanout.MoverSink: whether the socket takes ev. Channels
// the socket may not read never get here (ReadsAs).
func (s *socket) Wants(ev *pb.Event, local bool) bool {
	// DRP events are publications; presence announcements (join/leave)
	// have no DRP form.
	if ev.GetKind() != pb.EventKind_EVENT_KIND_UNSPECIFIED {
		return false
	}
	if s.sess.isExcluded(ev.GetChannel()) {
		return false
	}
	if local {
		if f := s.current.Load(); f == nil || !matchAny(*f, ev) {
			return false
		}
	}
	return true
}

// Send implements fanout.MoverSink. A full queue closes the socket as a
// slow consumer (wsconn).
func (s *socket) Send(frame []byte) { s.conn.Send(frame) }

// ReadsAs implements fanout.Reader: the groups leave out the events of
// channels the socket's user may not read.
func (s *socket) ReadsAs() access.Reader { return s.id.reader() }

// UpstreamClosed implements fanout.MoverSink: the live group's stream
// ended, so the socket would receive nothing more and is closed. The client
// reconnects and registers again.
func (s *socket) UpstreamClosed(err error) {
	if eventsLost(err) {
		// Events were lost upstream: send what came before, then say so.
		s.log.Info("websocket closed", "reason", reasonEventsLost, "err", err)
		s.conn.CloseAfterFlush(closeEventsLost, reasonEventsLost)
		return
	}
	s.log.Info("websocket closed", "reason", reasonUpstreamEnded, "err", err)
	s.closeUnavailable(reasonUpstreamEnded)
}

func matchAny(filters []Filter, ev *pb.Event) bool {
	for _, f := range filters {
		if f.Match(ev.GetChannel(), ev.GetName(), ev.GetKey()) {
			return true
		}
	}
	return false
}
