package app_test

import (
	"context"
	"sync"
	"testing"
	"time"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/app"
	"github.com/switchboard-hub/switchboard/internal/app/apptest"
	"github.com/switchboard-hub/switchboard/services/engine"
)

// closeWatch is an engine that records calls made after its Close: the
// calls a face's or the hub's teardown makes (sessions, presence, events,
// node reports).
type closeWatch struct {
	engine.Engine
	mu     sync.Mutex
	closed bool
	late   []string
}

func (w *closeWatch) call(name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		w.late = append(w.late, name)
	}
}

func (w *closeWatch) lateCalls() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.late...)
}

func (w *closeWatch) Close() error {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	return w.Engine.Close()
}

func (w *closeWatch) Publish(ctx context.Context, ev *pb.Event, o engine.HistoryOptions) (*pb.StreamPosition, error) {
	w.call("Publish")
	return w.Engine.Publish(ctx, ev, o)
}

func (w *closeWatch) PublishControl(ctx context.Context, c *engine.Control) error {
	w.call("PublishControl")
	return w.Engine.PublishControl(ctx, c)
}

func (w *closeWatch) Unsubscribe(ctx context.Context, tenant, channel string) error {
	w.call("Unsubscribe")
	return w.Engine.Unsubscribe(ctx, tenant, channel)
}

func (w *closeWatch) RemovePresence(ctx context.Context, tenant, channel, id string) error {
	w.call("RemovePresence")
	return w.Engine.RemovePresence(ctx, tenant, channel, id)
}

func (w *closeWatch) RemoveSession(ctx context.Context, s *pb.Session) (bool, error) {
	w.call("RemoveSession")
	return w.Engine.RemoveSession(ctx, s)
}

func (w *closeWatch) SetLastSeen(ctx context.Context, tenant, user string, t time.Time) error {
	w.call("SetLastSeen")
	return w.Engine.SetLastSeen(ctx, tenant, user, t)
}

func (w *closeWatch) UpdateNode(ctx context.Context, n *pb.NodeInfo) error {
	w.call("UpdateNode")
	return w.Engine.UpdateNode(ctx, n)
}

// Shutdown closes the engine last: the sessions of every face, of remote
// gRPC streams and of the node itself are torn down before, and nothing
// calls the engine afterwards.
func TestShutdownClosesTheEngineLast(t *testing.T) {
	var watch *closeWatch
	app.SetEngineWrapper(func(e engine.Engine) engine.Engine {
		watch = &closeWatch{Engine: e}
		return watch
	})
	t.Cleanup(func() { app.SetEngineWrapper(nil) })
	srv := apptest.Start(t, func(c *app.Config) { c.JoinLeave = true })

	drpSocket(t, srv, "5", "machines.*.*")
	cometSocket(t, srv, "uuid-1", "news", "track_room")
	st, _ := subscribe(t, srv.Hub, &pb.SubscribeRequest{Filters: []*pb.Filter{{Channels: []string{"x"}}}})

	ctx, cancel := context.WithTimeout(context.Background(), 3*wait)
	defer cancel()
	if err := srv.App.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if s := streamErr(t, st); s.Code().String() != "Unavailable" {
		t.Fatalf("stream at shutdown: %v", s)
	}
	if late := watch.lateCalls(); len(late) > 0 {
		t.Fatalf("engine called after Close: %v", late)
	}
}
