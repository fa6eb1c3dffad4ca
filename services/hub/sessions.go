package hub

import (
	"context"
	"sync"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/services/engine"
)

// session is a connection known to this node: a bridge's socket (edge set)
// or a direct Subscribe stream's own session (implicit).
type session struct {
	info     *pb.Session
	edge     string // bridge edge whose Control stream gets orders; "" = none
	implicit bool   // made by Subscribe for itself; ends with its stream

	mu       sync.Mutex
	channels map[string]bool // joined (presence), in the session's tenant
	streams  map[*stream]bool
	json     string // lifecycle event data, made once (lifecycle.go)

	pend pendingWork // what control orders left to do (work.go)
}

type userKey struct{ tenant, user string }

// edgeQueueSize bounds the orders waiting for one edge's Control stream.
const edgeQueueSize = 4096

// edge is one bridge process's Control stream.
type edge struct {
	orders chan *pb.ControlResponse
	done   chan struct{}
}

// registry holds this node's sessions and edges.
type registry struct {
	mu       sync.RWMutex
	sessions map[string]*session
	byUser   map[userKey]map[*session]bool
	edges    map[string]*edge
}

func newRegistry() *registry {
	return &registry{
		sessions: map[string]*session{},
		byUser:   map[userKey]map[*session]bool{},
		edges:    map[string]*edge{},
	}
}

func (r *registry) add(s *session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sessions[s.info.Id] = s
	k := userKey{s.info.Tenant, s.info.User}
	if r.byUser[k] == nil {
		r.byUser[k] = map[*session]bool{}
	}
	r.byUser[k][s] = true
}

func (r *registry) remove(s *session) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sessions[s.info.Id] != s {
		return false
	}
	delete(r.sessions, s.info.Id)
	k := userKey{s.info.Tenant, s.info.User}
	delete(r.byUser[k], s)
	if len(r.byUser[k]) == 0 {
		delete(r.byUser, k)
	}
	return true
}

func (r *registry) get(id string) *session {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.sessions[id]
}

// targets lists the local sessions a control order or directed event is for.
func (r *registry) targets(tenant, user, sessionID string) []*session {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if sessionID != "" {
		if s := r.sessions[sessionID]; s != nil {
			return []*session{s}
		}
		return nil
	}
	out := make([]*session, 0, len(r.byUser[userKey{tenant, user}]))
	for s := range r.byUser[userKey{tenant, user}] {
		out = append(out, s)
	}
	return out
}

// counts returns the number of sessions and of distinct users.
func (r *registry) counts() (sessions, users int) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for k := range r.byUser {
		if k.user != "" {
			users++
		}
	}
	return len(r.sessions), users
}

// sendOrder queues an order for the session's edge; it reports false when
// the edge has no Control stream or it is full (the order is dropped and
// logged by the caller).
func (r *registry) sendOrder(s *session, o *pb.ControlResponse) bool {
	r.mu.RLock()
	e := r.edges[s.edge]
	r.mu.RUnlock()
	if e == nil {
		return false
	}
	select {
	case e.orders <- o:
		return true
	default:
		return false
	}
}

// openEdge registers a Control stream; a second stream for the same edge
// replaces the first.
func (r *registry) openEdge(name string) *edge {
	e := &edge{orders: make(chan *pb.ControlResponse, edgeQueueSize), done: make(chan struct{})}
	r.mu.Lock()
	defer r.mu.Unlock()
	if old := r.edges[name]; old != nil {
		close(old.done)
	}
	r.edges[name] = e
	return e
}

func (r *registry) closeEdge(name string, e *edge) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.edges[name] == e {
		delete(r.edges, name)
	}
}

// join adds the session to channels' presence, publishing JOIN events where
// the namespace asks for them and on sys:subscriptions. Work that control
// orders left for the session is done first.
func (h *Hub) join(ctx context.Context, s *session, channels []string) error {
	s.pend.run.Lock()
	defer s.pend.run.Unlock()
	h.settleLocked(ctx, s)
	for _, ch := range channels {
		if isSys(ch) {
			continue // watching lifecycle events is not being in a channel
		}
		o, err := h.optionsFor(ch)
		if err != nil {
			return err
		}
		s.mu.Lock()
		already := s.channels[ch]
		if s.channels == nil {
			s.channels = map[string]bool{}
		}
		s.channels[ch] = true
		s.mu.Unlock()
		if already {
			continue
		}
		if o.presence {
			if err := h.eng.AddPresence(ctx, s.info.Tenant, ch, s.info); err != nil {
				return err
			}
			if o.joinLeave {
				h.announce(ctx, s, ch, pb.EventKind_EVENT_KIND_JOIN)
			}
		}
		h.announceLifecycle(ctx, s, ChannelSubscriptions, pb.EventKind_EVENT_KIND_JOIN, ch)
	}
	return nil
}

// leave removes the session from channels (all joined ones when empty).
func (h *Hub) leave(ctx context.Context, s *session, channels []string) error {
	s.pend.run.Lock()
	defer s.pend.run.Unlock()
	h.settleLocked(ctx, s)
	return h.leaveLocked(ctx, s, channels)
}

// leaveLocked is leave; callers hold s.pend.run.
func (h *Hub) leaveLocked(ctx context.Context, s *session, channels []string) error {
	s.mu.Lock()
	if len(channels) == 0 {
		for ch := range s.channels {
			channels = append(channels, ch)
		}
	}
	var left []string
	for _, ch := range channels {
		if s.channels[ch] {
			delete(s.channels, ch)
			left = append(left, ch)
		}
	}
	s.mu.Unlock()
	var firstErr error
	for _, ch := range left {
		o, err := h.optionsFor(ch)
		if err == nil && o.presence {
			if err := h.eng.RemovePresence(ctx, s.info.Tenant, ch, s.info.Id); err != nil && firstErr == nil {
				firstErr = err
			}
			if o.joinLeave {
				h.announce(ctx, s, ch, pb.EventKind_EVENT_KIND_LEAVE)
			}
		}
		h.announceLifecycle(ctx, s, ChannelSubscriptions, pb.EventKind_EVENT_KIND_LEAVE, ch)
	}
	return firstErr
}

// announce publishes a JOIN or LEAVE event for s into ch. Announcements are
// not kept in history.
func (h *Hub) announce(ctx context.Context, s *session, ch string, kind pb.EventKind) {
	ev := &pb.Event{
		Tenant:    s.info.Tenant,
		Channel:   ch,
		Kind:      kind,
		Data:      "null",
		Publisher: &pb.Publisher{User: s.info.User, Client: s.info.Id, Info: s.info.Info},
	}
	if _, err := h.eng.Publish(ctx, ev, engine.HistoryOptions{}); err != nil {
		h.log.Warn("join/leave announcement failed", "channel", ch, "err", err)
	}
}

// closeSession ends a session everywhere: presence, the user's sessions in
// the cluster (with the lifecycle events), and the registry.
func (h *Hub) closeSession(ctx context.Context, s *session) {
	if !h.reg.remove(s) {
		return
	}
	if err := h.leave(ctx, s, nil); err != nil {
		h.log.Warn("leave on close failed", "session", s.info.Id, "err", err)
	}
	h.closed(ctx, s)
}
