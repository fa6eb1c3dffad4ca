package drp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
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

// handle runs one client frame: update the filter set, move the upstream
// subscription if the set changed, then acknowledge. The ack comes after
// the new subscription is live, so an event published after the client
// sees its ack is never missed.
func (s *socket) handle(frame []byte) {
	if s.closing {
		return
	}
	cmd, err := ParseCommand(frame)
	if err != nil {
		// DRP logs and ignores such frames; the connection stays open.
		s.log.Debug("frame ignored", "err", err)
		return
	}
	if cmd.Verb == Register && len(s.texts) >= maxFilters && !slices.Contains(s.texts, cmd.Filter) {
		s.log.Info("websocket closed", "reason", reasonTooManyFilters, "filters", len(s.texts))
		s.closing = true
		s.conn.Close(closeTooManyFilters, reasonTooManyFilters)
		return
	}
	if s.apply(cmd) {
		if err := s.resubscribe(); err != nil {
			s.log.Warn("websocket closed", "reason", reasonUnavailable, "err", err)
			s.closing = true
			s.closeUnavailable(reasonUnavailable)
			return
		}
		s.sess.syncPresence(s.parsedFilters())
	}
	ack, err := encodeAck(cmd.Verb, cmd.Filter, time.Now())
	if err != nil {
		s.log.Error("ack not sent", "err", err)
		return
	}
	s.conn.Send(ack)
}

// apply changes the stored texts; it reports whether they changed.
// register adds the text unless stored already; deregister removes the
// identical text only (drp.md §3.1, §6.4).
func (s *socket) apply(cmd Command) bool {
	i := slices.Index(s.texts, cmd.Filter)
	switch cmd.Verb {
	case Register:
		if i >= 0 {
			return false
		}
		s.texts = append(s.texts, cmd.Filter)
		if f, err := ParseFilter(cmd.Filter); err == nil {
			s.filters[cmd.Filter] = f
		} else {
			s.log.Debug("filter never matches", "err", err)
		}
		return true
	case Deregister:
		if i < 0 {
			return false
		}
		s.texts = slices.Delete(s.texts, i, i+1)
		delete(s.filters, cmd.Filter)
		return true
	}
	return false
}

// parsedFilters returns the parsed filters in registration order.
func (s *socket) parsedFilters() []Filter {
	out := make([]Filter, 0, len(s.filters))
	for _, t := range s.texts {
		if f, ok := s.filters[t]; ok {
			out = append(out, f)
		}
	}
	return out
}

// resubscribe moves the socket to the upstream group of its current filter
// set. The new group is joined first; the old membership then drains for
// drainTime (filtered by the new set, duplicates dropped by event id) and
// is left (fanout.Mover). A socket with nothing that can match joins no
// group.
func (s *socket) resubscribe() error {
	parsed := s.parsedFilters()
	// Local filtering follows the new set from now on.
	s.current.Store(&parsed)
	req := subscribeRequest(parsed)
	key := ""
	if req != nil {
		key = fanout.FilterSetKey(req.Filters)
	}
	if key == s.wantKey {
		return nil // the same events as before: stay in the group
	}
	if req == nil {
		s.groups.Clear()
		s.wantKey = key
		return nil
	}
	if err := s.groups.Move(func() (*fanout.Membership, error) { return s.join(key, req) }); err != nil {
		if errors.Is(err, fanout.ErrUpstreamEnded) {
			return fmt.Errorf("drp: %w", err)
		}
		return err
	}
	s.wantKey = key
	return nil
}

// join subscribes a new membership to the group for req; nil when the socket
// may read none of the Types the set names. A set beyond the hub's limits
// for one subscription, or one the hub refuses (a channel in an unknown
// namespace), joins the catch-all group instead and is filtered here.
func (s *socket) join(key string, req *pb.SubscribeRequest) (*fanout.Membership, error) {
	if beyondHubLimits(req) {
		// The hub would refuse it: no need to ask.
		s.filterLocally("filter set beyond the hub's limits", nil)
		return s.joinCatchAll()
	}
	ctx := s.conn.Context()
	if err := s.moves.Wait(ctx); err != nil {
		return nil, fmt.Errorf("drp: subscribe: %w", err)
	}
	m, err := s.groups.Subscribe(ctx, key, req, encodeEvent, false)
	if errors.Is(err, fanout.ErrNotReadable) {
		// Every Type the set names is limited to others: nothing to
		// deliver, so no group (DRP filters such events out silently).
		return nil, nil
	}
	if err != nil && refusedByHub(err) {
		s.filterLocally("filter set refused by the hub", err)
		return s.joinCatchAll()
	}
	if err != nil {
		return nil, fmt.Errorf("drp: subscribe: %w", err)
	}
	return m, nil
}

// joinCatchAll joins the group of every event of the default tenant, whose
// events the socket filters itself; a socket already there stays (its
// current member is returned).
func (s *socket) joinCatchAll() (*fanout.Membership, error) {
	if cur := s.groups.Current(); cur != nil && cur.Local() {
		return cur, nil // already there
	}
	ctx := s.conn.Context()
	if err := s.moves.Wait(ctx); err != nil {
		return nil, fmt.Errorf("drp: subscribe: %w", err)
	}
	all := catchAll()
	m, err := s.groups.Subscribe(ctx, fanout.FilterSetKey(all.Filters), all, encodeEvent, true)
	if err != nil {
		return nil, fmt.Errorf("drp: subscribe: %w", err)
	}
	return m, nil
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
