package drp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/switchboard-hub/switchboard/bridge/fanout"
	"github.com/switchboard-hub/switchboard/bridge/wsconn"
	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// maxFilters bounds the distinct filter texts one socket may hold. DRP had
// no limit; without one a client could grow a socket's state without end.
// The socket is closed (closeTooManyFilters) on the register beyond it.
const maxFilters = 1024

// drainTime is how long a socket keeps its previous upstream group after
// moving to a new one. Both are live meanwhile (the new one first, so
// nothing is missed): events already in flight on the old stream when the
// new one started are only on the old stream. It bounds how long an event
// may take from the hub to this face; it costs one extra stream for that
// long, never a delay. Meanwhile the two groups' events may interleave out
// of publish order (each group keeps its own order; the first copy of an
// event wins).
const drainTime = 2 * time.Second

// dedupMax bounds the event ids one socket remembers while two groups
// overlap; dedupTail is how many deliveries after the overlap are still
// checked against them (the new stream may lag the old one).
const (
	dedupMax  = 8192
	dedupTail = 1024
)

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

	// current is the socket's parsed filter set, for members that filter
	// locally (catch-all and draining ones). Written by the read loop.
	current atomic.Pointer[[]Filter]

	sess *session // the socket as a core session; nil without a control router

	mu       sync.Mutex
	cur      *member              // the live membership; nil when no filter can match
	draining map[*member]struct{} // previous memberships, until drainTime has passed
	dedup    dedupWindow
	ended    bool
}

func newSocket(h *Handler, conn *wsconn.Conn, id identity) *socket {
	return &socket{
		h:        h,
		conn:     conn,
		id:       id,
		log:      h.log.With("user", id.User),
		filters:  make(map[string]Filter),
		draining: make(map[*member]struct{}),
	}
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
	defer s.leave()
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
	if s.h.deps.Lifetime().Err() != nil {
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
// is left. A socket with nothing that can match joins no group.
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

	s.mu.Lock()
	old := s.cur
	if old != nil && req != nil {
		// Before joining: the new group may deliver at once.
		s.dedup.start()
	}
	s.mu.Unlock()

	var next *member
	if req != nil {
		var err error
		if next, err = s.join(key, req); err != nil {
			return err
		}
		if next == old {
			// Still in the catch-all group: nothing moves.
			s.mu.Lock()
			if len(s.draining) == 0 {
				s.dedup.tail(dedupTail)
			}
			s.mu.Unlock()
			s.wantKey = key
			return nil
		}
	}
	// With no new group there is nothing left to deliver: no drain.
	drain := old != nil && next != nil
	s.mu.Lock()
	s.cur = next
	gone := next != nil && next.gone
	if drain {
		old.draining.Store(true)
		s.draining[old] = struct{}{}
	}
	s.mu.Unlock()
	s.wantKey = key
	switch {
	case drain:
		time.AfterFunc(drainTime, func() { s.endDrain(old) })
	case old != nil:
		old.retire()
	}
	if gone {
		return fmt.Errorf("drp: upstream ended while joining: %w", fanout.ErrUpstreamEnded)
	}
	return nil
}

// endDrain leaves a previous group once its in-flight events are through.
func (s *socket) endDrain(m *member) {
	s.mu.Lock()
	if _, ok := s.draining[m]; ok {
		delete(s.draining, m)
		if len(s.draining) == 0 {
			s.dedup.tail(dedupTail)
		}
	}
	s.mu.Unlock()
	m.retire()
}

// join subscribes a new member to the group for req. When the hub refuses
// the exact set (more filters or values than it takes in one subscription,
// a channel in an unknown namespace), the member joins the catch-all group
// instead and filters events itself; a socket already there stays (join
// returns its current member).
func (s *socket) join(key string, req *pb.SubscribeRequest) (*member, error) {
	ctx := s.conn.Context()
	m := &member{s: s}
	cancel, err := s.h.fan.Subscribe(ctx, Face, key, req, encodeEvent, m)
	if err != nil && refusedByHub(err) {
		s.log.Info("filter set refused by the hub; filtering locally", "err", err)
		if s.cur != nil && s.cur.local {
			// Already there. (s.cur is written by this goroutine only.)
			return s.cur, nil
		}
		all := catchAll()
		m = &member{s: s, local: true}
		cancel, err = s.h.fan.Subscribe(ctx, Face, fanout.FilterSetKey(all.Filters), all, encodeEvent, m)
	}
	if err != nil {
		return nil, fmt.Errorf("drp: subscribe: %w", err)
	}
	m.cancel = cancel
	return m, nil
}

// refusedByHub tells a request the hub will never accept from an error that
// may pass (the hub unreachable, the socket gone).
func refusedByHub(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	switch status.Code(err) {
	case codes.InvalidArgument, codes.NotFound, codes.FailedPrecondition, codes.OutOfRange:
		return true
	}
	return false
}

// leave ends every membership when the connection has ended.
func (s *socket) leave() {
	s.mu.Lock()
	s.ended = true
	ms := make([]*member, 0, 1+len(s.draining))
	if s.cur != nil {
		ms = append(ms, s.cur)
	}
	for m := range s.draining {
		ms = append(ms, m)
	}
	s.cur, s.draining = nil, nil
	s.mu.Unlock()
	for _, m := range ms {
		m.retire()
	}
}

// deliver queues one event's shared frame on the socket, if this socket
// may see it.
func (s *socket) deliver(m *member, ev *pb.Event, frame []byte) {
	if m.retired.Load() {
		return
	}
	// DRP events are publications; presence announcements (join/leave)
	// have no DRP form.
	if ev.GetKind() != pb.EventKind_EVENT_KIND_UNSPECIFIED {
		return
	}
	if !s.id.Admin && !userMayReceive(ev.GetChannel(), s.id.User) {
		return
	}
	if s.sess.isExcluded(ev.GetChannel()) {
		return
	}
	if m.local || m.draining.Load() {
		if f := s.current.Load(); f == nil || !matchAny(*f, ev) {
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.dedup.admit(ev.GetId()) {
		return
	}
	// A full queue closes the socket as a slow consumer (wsconn).
	s.conn.Send(frame)
}

// upstreamClosed closes the socket when its live group's stream ended: it
// would receive nothing more. The client reconnects and registers again. A
// draining group's end only ends its drain.
func (s *socket) upstreamClosed(m *member, err error) {
	s.mu.Lock()
	m.gone = true
	live := m == s.cur && !s.ended
	_, draining := s.draining[m]
	s.mu.Unlock()
	switch {
	case live && status.Code(err) == codes.DataLoss:
		// Events were lost upstream: send what came before, then say so.
		s.log.Info("websocket closed", "reason", reasonEventsLost, "err", err)
		s.conn.CloseAfterFlush(closeEventsLost, reasonEventsLost)
	case live:
		s.log.Info("websocket closed", "reason", reasonUpstreamEnded, "err", err)
		s.closeUnavailable(reasonUpstreamEnded)
	case draining:
		s.endDrain(m)
	}
}

func matchAny(filters []Filter, ev *pb.Event) bool {
	for _, f := range filters {
		if f.Match(ev.GetChannel(), ev.GetName(), ev.GetKey()) {
			return true
		}
	}
	return false
}

// member is one socket's membership of one fan-out group: the fanout.Sink.
type member struct {
	s      *socket
	cancel func()
	// local: the group streams more than the socket's filters match (the
	// catch-all group), so events are filtered here.
	local bool
	// draining: a previous group, kept until drainTime has passed; its
	// events are filtered by the socket's current set.
	draining atomic.Bool
	retired  atomic.Bool
	gone     bool // the group's stream ended; guarded by socket.mu
}

// Deliver implements fanout.Sink.
func (m *member) Deliver(ev *pb.Event, frame []byte) { m.s.deliver(m, ev, frame) }

// UpstreamClosed implements fanout.Sink.
func (m *member) UpstreamClosed(err error) { m.s.upstreamClosed(m, err) }

// retire stops delivery through m at once (fanout may call Deliver a moment
// after cancel) and leaves the group. It is idempotent.
func (m *member) retire() {
	m.retired.Store(true)
	if m.cancel != nil {
		m.cancel()
	}
}

// dedupWindow drops events delivered twice while groups overlap: "full"
// from the start of a move until every draining group is left (ids are
// recorded and checked), then "tail" for a number of deliveries (checked
// only), then off. Guarded by socket.mu.
type dedupWindow struct {
	mode dedupMode
	left int
	seen map[string]struct{}
}

type dedupMode uint8

const (
	dedupOff dedupMode = iota
	dedupFull
	dedupTailing
)

func (d *dedupWindow) start() {
	d.mode = dedupFull
	if d.seen == nil {
		d.seen = make(map[string]struct{})
	}
}

func (d *dedupWindow) tail(n int) {
	d.mode = dedupTailing
	d.left = n
}

// admit reports whether an event with this id should be delivered.
func (d *dedupWindow) admit(id string) bool {
	switch d.mode {
	case dedupFull:
		if _, dup := d.seen[id]; dup && id != "" {
			return false
		}
		if id != "" && len(d.seen) < dedupMax {
			d.seen[id] = struct{}{}
		}
		return true
	case dedupTailing:
		_, dup := d.seen[id]
		d.left--
		if d.left <= 0 {
			d.mode, d.seen = dedupOff, nil
		}
		return !dup || id == ""
	default:
		return true
	}
}
