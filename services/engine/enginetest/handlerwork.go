package enginetest

import (
	"context"
	"sync"
	"testing"
	"time"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/services/engine"
)

// HandlerSetup starts a handler on e (its Run goes through e) and builds
// the state in which the returned order makes the handler call the engine
// (for a hub: a session in a channel with presence, and an Unsubscribe
// order for its user). Whatever it starts it stops in t.Cleanup.
type HandlerSetup func(t *testing.T, e engine.Engine) *engine.Control

// CheckHandlerWork fails when the engine work a handler does for a control
// order can stall delivery: the order must be handed over (PublishControl
// returns) and later events must reach the handler while every engine call
// the handler's work makes is held, as a Redis that stops answering would
// hold it. A handler that calls the engine from HandleControl fails it on
// either engine: on Redis the node's pub/sub reader waits for the call, on
// memory the publisher of the order does.
//
// The engine under test is wrapped: the handler and its work see the
// wrapper, the check itself talks to the engine directly.
func CheckHandlerWork(t *testing.T, newEngine NewEngine, setup HandlerSetup) {
	inner := newEngine(t)
	g := newGatedEngine(inner)
	ctl := setup(t, g)
	t.Cleanup(g.open) // first, so that what setup started can end
	ctx := ctxFor(t)

	// Every event published through the engine itself on the probe channel
	// is seen once the handler returned from it.
	const tenant, probe = "handler-work", "probe"
	if err := inner.Subscribe(ctx, tenant, probe); err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	publish := func() string {
		t.Helper()
		ev := &pb.Event{Tenant: tenant, Channel: probe, Data: "null"}
		if _, err := inner.Publish(ctx, ev, engine.HistoryOptions{}); err != nil {
			t.Fatalf("Publish: %v", err)
		}
		return ev.Id
	}
	// Events are dropped until the handler's Run is live: probe until one
	// gets through.
	deadline := time.Now().Add(waitTimeout)
	for !g.waitSeen(publish(), 20*time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no event reached the handler: is its Run going through the engine it was given?")
		}
	}

	g.close()
	sent := make(chan error, 1)
	go func() { sent <- inner.PublishControl(ctx, ctl) }()
	if !g.waitHeld(waitTimeout) {
		t.Fatalf("the handler made no engine call for %v: the check proves nothing", ctl.Kind)
	}
	if !g.waitSeen(publish(), waitTimeout) {
		t.Fatalf("an event published while the handler's work for the order waits for the engine never reached the handler (the work runs on the delivery path)")
	}
	select {
	case err := <-sent:
		if err != nil {
			t.Fatalf("PublishControl: %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatalf("PublishControl did not return while the handler's work waits for the engine (it runs on the delivery path)")
	}
}

// gatedEngine passes every call through to the engine, except that while
// the gate is closed the calls of a handler's work (presence, users,
// publishing) wait until it opens. It watches the events Run delivers.
type gatedEngine struct {
	engine.Engine

	mu     sync.Mutex
	shut   bool          // gate closed
	opened chan struct{} // closed when the gate opens
	held   chan struct{} // closed at the first call held
	seen   map[string]bool
	change chan struct{} // closed and replaced when seen grows
}

func newGatedEngine(e engine.Engine) *gatedEngine {
	return &gatedEngine{Engine: e, opened: make(chan struct{}), held: make(chan struct{}), seen: map[string]bool{}, change: make(chan struct{})}
}

func (g *gatedEngine) close() {
	g.mu.Lock()
	g.shut = true
	g.mu.Unlock()
}

func (g *gatedEngine) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.shut {
		g.shut = false
		close(g.opened)
	}
}

// pass returns once the call may go on: at once while the gate is open.
func (g *gatedEngine) pass(ctx context.Context) error {
	g.mu.Lock()
	if !g.shut {
		g.mu.Unlock()
		return nil
	}
	select {
	case <-g.held:
	default:
		close(g.held)
	}
	opened := g.opened
	g.mu.Unlock()
	select {
	case <-opened:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *gatedEngine) waitHeld(d time.Duration) bool {
	select {
	case <-g.held:
		return true
	case <-time.After(d):
		return false
	}
}

func (g *gatedEngine) waitSeen(id string, d time.Duration) bool {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		g.mu.Lock()
		ok, change := g.seen[id], g.change
		g.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-change:
		case <-deadline.C:
			return false
		}
	}
}

// Run delivers through a handler that notes each event after h handled it.
func (g *gatedEngine) Run(ctx context.Context, h engine.Handler) error {
	return g.Engine.Run(ctx, watcher{h, g})
}

type watcher struct {
	engine.Handler
	g *gatedEngine
}

func (w watcher) HandleEvent(ev *pb.Event) {
	w.Handler.HandleEvent(ev)
	w.g.mu.Lock()
	w.g.seen[ev.Id] = true
	close(w.g.change)
	w.g.change = make(chan struct{})
	w.g.mu.Unlock()
}

// The calls a handler's work may make.

func (g *gatedEngine) Publish(ctx context.Context, ev *pb.Event, o engine.HistoryOptions) (*pb.StreamPosition, error) {
	if err := g.pass(ctx); err != nil {
		return nil, err
	}
	return g.Engine.Publish(ctx, ev, o)
}

func (g *gatedEngine) PublishControl(ctx context.Context, c *engine.Control) error {
	if err := g.pass(ctx); err != nil {
		return err
	}
	return g.Engine.PublishControl(ctx, c)
}

func (g *gatedEngine) AddPresence(ctx context.Context, tenant, channel string, s *pb.Session) error {
	if err := g.pass(ctx); err != nil {
		return err
	}
	return g.Engine.AddPresence(ctx, tenant, channel, s)
}

func (g *gatedEngine) ClaimPresence(ctx context.Context, tenant, channel string, s *pb.Session) (bool, error) {
	if err := g.pass(ctx); err != nil {
		return false, err
	}
	return g.Engine.ClaimPresence(ctx, tenant, channel, s)
}

func (g *gatedEngine) RemovePresence(ctx context.Context, tenant, channel, sessionID string) error {
	if err := g.pass(ctx); err != nil {
		return err
	}
	return g.Engine.RemovePresence(ctx, tenant, channel, sessionID)
}

func (g *gatedEngine) AddSession(ctx context.Context, s *pb.Session) (bool, error) {
	if err := g.pass(ctx); err != nil {
		return false, err
	}
	return g.Engine.AddSession(ctx, s)
}

func (g *gatedEngine) RemoveSession(ctx context.Context, s *pb.Session) (bool, error) {
	if err := g.pass(ctx); err != nil {
		return false, err
	}
	return g.Engine.RemoveSession(ctx, s)
}

// workHandler is the suite's own handler that does engine work for control
// orders the way the Handler contract asks: off the delivery path, on a
// goroutine of its own. For an Unsubscribe order it takes the user's
// session out of the channel's presence.
type workHandler struct {
	e        engine.Engine
	work     chan *engine.Control
	sessions map[string]string // user → session id; fixed before Run
}

func (w *workHandler) HandleEvent(*pb.Event) {}

func (w *workHandler) HandleGap(*engine.Gap) {}

func (w *workHandler) HandleControl(c *engine.Control) {
	select {
	case w.work <- c:
	default: // a full queue drops the work; this handler is only an example
	}
}

func (w *workHandler) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case c := <-w.work:
			_ = w.e.RemovePresence(ctx, c.Tenant, c.Channel, w.sessions[c.User])
		}
	}
}

// testHandlerWork runs CheckHandlerWork with workHandler.
func testHandlerWork(t *testing.T, newEngine NewEngine) {
	CheckHandlerWork(t, newEngine, func(t *testing.T, e engine.Engine) *engine.Control {
		ctx, cancel := context.WithCancel(context.Background())
		h := &workHandler{e: e, work: make(chan *engine.Control, 16), sessions: map[string]string{"u": "s1"}}
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); h.run(ctx) }()
		go func() { defer wg.Done(); _ = e.Run(ctx, h) }()
		t.Cleanup(func() { cancel(); wg.Wait() })
		if err := e.AddPresence(ctx, "t", "room", session("s1", "u")); err != nil {
			t.Fatalf("AddPresence: %v", err)
		}
		return &engine.Control{Kind: engine.ControlUnsubscribe, Tenant: "t", User: "u", Channel: "room"}
	})
}
