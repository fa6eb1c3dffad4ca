package control

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// Handler receives the orders for one session. Calls come from the
// Router's single stream goroutine, one at a time, in the order the hub sent
// them; a handler must not block (queue, or close asynchronously).
type Handler interface {
	// Disconnect: close the connection, showing reason where the face can.
	Disconnect(reason string)
	// Unsubscribe: stop delivering channel to the connection ("" = every channel).
	Unsubscribe(channel string)
	// Deliver: a directed event for the connection.
	Deliver(ev *pb.Event)
}

// Errors returned by the Router.
var (
	// ErrRunning: Run was called while another Run is active.
	ErrRunning = errors.New("control: router already running")
	// ErrDuplicateSession: a session with this id is already registered here.
	ErrDuplicateSession = errors.New("control: session id already registered on this edge")
)

// Timing of the Control stream.
const (
	// closeTimeout bounds SessionService.Close when a session ends.
	closeTimeout = 5 * time.Second
	// Reconnect backoff doubles from minBackoff to maxBackoff; a stream
	// that stayed open for stableAfter resets it.
	minBackoff  = 100 * time.Millisecond
	maxBackoff  = 5 * time.Second
	stableAfter = 10 * time.Second
	// headerGrace is how long an open stream may go without headers before
	// it is taken as open (see serveStream).
	headerGrace = 2 * time.Second
)

// Router holds the edge's Control stream and the sessions registered on it.
type Router struct {
	sessions pb.SessionServiceClient
	edge     string
	log      *slog.Logger

	mu       sync.Mutex
	handlers map[string]*registration
	// open is closed while a Control stream is open; a broken stream
	// replaces it with a fresh channel for Connect calls to wait on.
	open    chan struct{}
	gen     uint64 // counts broken streams; see markOpen
	running bool
}

// registration is one Connect; its pointer tells a session that re-used an
// id apart from the one that left.
type registration struct{ h Handler }

// New returns a Router for the edge named edge. Call Run to open the stream.
func New(sessions pb.SessionServiceClient, edge string, logger *slog.Logger) *Router {
	if logger == nil {
		logger = slog.Default()
	}
	return &Router{
		sessions: sessions,
		edge:     edge,
		log:      logger,
		handlers: make(map[string]*registration),
		open:     make(chan struct{}),
	}
}

// ConnectOption changes how Connect registers a session.
type ConnectOption func(*pb.ConnectRequest)

// DrainQueue asks the hub to hand over (in ConnectResponse.queued) and empty
// the user's queue of directed events kept while the user was offline. Only
// faces that can show those events ask for it.
func DrainQueue() ConnectOption { return func(r *pb.ConnectRequest) { r.DrainQueue = true } }

// Connect registers the session s with the hub (SessionService.Connect with
// this edge) and routes the session's orders to h. It first waits until the
// Control stream is open, bounded by ctx. A session without an id gets a
// random one here, so that h is registered before the hub knows the session
// and no order can arrive for an unknown id.
//
// The returned close func ends the session: it unregisters h and calls
// SessionService.Close (bounded by a short timeout, keeping ctx's values).
// It is idempotent.
func (r *Router) Connect(ctx context.Context, s *pb.Session, h Handler, opts ...ConnectOption) (*pb.ConnectResponse, func(), error) {
	req := &pb.ConnectRequest{Edge: r.edge}
	for _, o := range opts {
		o(req)
	}
	if err := r.waitOpen(ctx); err != nil {
		return nil, nil, fmt.Errorf("control: connect: %w", err)
	}
	s = proto.Clone(s).(*pb.Session)
	if s.GetId() == "" {
		s.Id = newSessionID()
	}
	reg := &registration{h: h}
	if !r.register(s.GetId(), reg) {
		return nil, nil, fmt.Errorf("control: connect %q: %w", s.GetId(), ErrDuplicateSession)
	}
	req.Session = s
	resp, err := r.sessions.Connect(ctx, req)
	if err != nil {
		r.unregister(s.GetId(), reg)
		return nil, nil, fmt.Errorf("control: connect: %w", err)
	}
	id := s.GetId()
	if got := resp.GetSession().GetId(); got != "" && got != id {
		// The hub chose another id: orders will carry that one.
		r.unregister(id, reg)
		id = got
		if !r.register(id, reg) {
			r.closeSession(ctx, id)
			return nil, nil, fmt.Errorf("control: connect %q: %w", id, ErrDuplicateSession)
		}
	}
	var once sync.Once
	closeFn := func() {
		once.Do(func() {
			r.unregister(id, reg)
			r.closeSession(ctx, id)
		})
	}
	return resp, closeFn, nil
}

func (r *Router) closeSession(ctx context.Context, id string) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
	defer cancel()
	if _, err := r.sessions.Close(cctx, &pb.CloseRequest{SessionId: id}); err != nil {
		r.log.Warn("session close failed", "session", id, "err", err)
	}
}

func (r *Router) waitOpen(ctx context.Context) error {
	r.mu.Lock()
	open := r.open
	r.mu.Unlock()
	select {
	case <-open:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *Router) register(id string, reg *registration) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, taken := r.handlers[id]; taken {
		return false
	}
	r.handlers[id] = reg
	return true
}

func (r *Router) unregister(id string, reg *registration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.handlers[id] == reg {
		delete(r.handlers, id)
	}
}

func (r *Router) handler(id string) Handler {
	r.mu.Lock()
	defer r.mu.Unlock()
	if reg := r.handlers[id]; reg != nil {
		return reg.h
	}
	return nil
}

// newSessionID returns 128 random bits in hex.
func newSessionID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand panics rather than return short)
	return hex.EncodeToString(b[:])
}
