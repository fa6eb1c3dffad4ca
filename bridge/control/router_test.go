package control_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-hub/switchboard/bridge/control"
	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// runRouter starts r.Run for the duration of the test.
func runRouter(t *testing.T, r *control.Router) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func connect(t *testing.T, r *control.Router, id string, h control.Handler) (*pb.ConnectResponse, func()) {
	t.Helper()
	resp, closeFn, err := r.Connect(ctxTimeout(t), &pb.Session{Id: id, User: "u", Face: "test"}, h)
	if err != nil {
		t.Fatalf("connect %q: %v", id, err)
	}
	return resp, closeFn
}

func TestOrdersReachTheirSession(t *testing.T) {
	fake := &fakeSessions{}
	r := control.New(startSessions(t, fake), "edge-1", nil)
	runRouter(t, r)

	a, b := newRecHandler(), newRecHandler()
	resp, _ := connect(t, r, "a", a)
	if resp.GetSession().GetId() != "a" || len(resp.GetQueued()) != 1 {
		t.Fatalf("connect response %v", resp)
	}
	connect(t, r, "b", b)
	stream := fake.nextStream(t)
	if stream.edge != "edge-1" {
		t.Fatalf("control stream for edge %q", stream.edge)
	}

	orders := []*pb.ControlResponse{
		{SessionId: "a", Order: &pb.ControlResponse_Event{Event: &pb.Event{Id: "e1"}}},
		{SessionId: "b", Order: &pb.ControlResponse_Unsubscribe{Unsubscribe: &pb.UnsubscribeOrder{Channel: "news"}}},
		{SessionId: "nobody", Order: &pb.ControlResponse_Disconnect{Disconnect: &pb.DisconnectOrder{Reason: "x"}}},
		{SessionId: "a", Order: &pb.ControlResponse_Disconnect{Disconnect: &pb.DisconnectOrder{Reason: "kicked"}}},
		{SessionId: "b", Order: &pb.ControlResponse_Event{Event: &pb.Event{Id: "e2"}}},
	}
	for _, o := range orders {
		stream.send(t, o)
	}
	want := map[*recHandler][]string{
		a: {"event:e1", "disconnect:kicked"},
		b: {"unsubscribe:news", "event:e2"},
	}
	for h, list := range want {
		for _, w := range list {
			if got := h.next(t); got != w {
				t.Fatalf("got order %q, want %q", got, w)
			}
		}
		h.expectNothing(t)
	}
	for _, e := range fake.entries() {
		if strings.HasPrefix(e, "connect:") && !strings.HasSuffix(e, "@edge-1") {
			t.Fatalf("Connect without this edge: %s", e)
		}
	}
}

func TestConnectWaitsForTheStream(t *testing.T) {
	gate := make(chan struct{})
	fake := &fakeSessions{gate: gate}
	r := control.New(startSessions(t, fake), "edge", nil)

	errc := make(chan error, 1)
	go func() {
		_, _, err := r.Connect(ctxTimeout(t), &pb.Session{Id: "s"}, newRecHandler())
		errc <- err
	}()
	runRouter(t, r)
	close(gate)
	if err := <-errc; err != nil {
		t.Fatalf("connect: %v", err)
	}
	if got := fake.entries(); !slices.Equal(got, []string{"control-open", "connect:s@edge"}) {
		t.Fatalf("hub saw %v; Connect must follow the control stream", got)
	}
}

func TestConnectGivesUpWithItsContext(t *testing.T) {
	r := control.New(startSessions(t, &fakeSessions{}), "edge", nil) // never Run
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := r.Connect(ctx, &pb.Session{Id: "s"}, newRecHandler()); !errors.Is(err, context.Canceled) {
		t.Fatalf("connect error %v, want context.Canceled", err)
	}
}

func TestReconnectAfterStreamBreaks(t *testing.T) {
	fake := &fakeSessions{}
	r := control.New(startSessions(t, fake), "edge", nil)
	runRouter(t, r)
	h := newRecHandler()
	connect(t, r, "s", h)
	first := fake.nextStream(t)
	close(first.drop)

	second := fake.nextStream(t)
	second.send(t, &pb.ControlResponse{SessionId: "s", Order: &pb.ControlResponse_Event{Event: &pb.Event{Id: "after"}}})
	if got := h.next(t); got != "event:after" {
		t.Fatalf("got %q", got)
	}
	// Sessions connected after the reconnect are routed as well.
	h2 := newRecHandler()
	connect(t, r, "s2", h2)
	second.send(t, &pb.ControlResponse{SessionId: "s2", Order: &pb.ControlResponse_Unsubscribe{Unsubscribe: &pb.UnsubscribeOrder{}}})
	if got := h2.next(t); got != "unsubscribe:" {
		t.Fatalf("got %q", got)
	}
}

func TestCloseEndsSessionOnce(t *testing.T) {
	fake := &fakeSessions{}
	r := control.New(startSessions(t, fake), "edge", nil)
	runRouter(t, r)
	h := newRecHandler()
	_, closeFn := connect(t, r, "s", h)
	stream := fake.nextStream(t)

	closeFn()
	closeFn()
	select {
	case id := <-fake.closed:
		if id != "s" {
			t.Fatalf("closed %q", id)
		}
	case <-time.After(waitTimeout):
		t.Fatalf("SessionService.Close not called")
	}
	select {
	case id := <-fake.closed:
		t.Fatalf("second Close for %q", id)
	default:
	}

	// Orders for the closed session are dropped; a marker order to a live
	// session shows the stream went past them.
	live := newRecHandler()
	connect(t, r, "live", live)
	stream.send(t, &pb.ControlResponse{SessionId: "s", Order: &pb.ControlResponse_Event{Event: &pb.Event{Id: "late"}}})
	stream.send(t, &pb.ControlResponse{SessionId: "live", Order: &pb.ControlResponse_Event{Event: &pb.Event{Id: "marker"}}})
	if got := live.next(t); got != "event:marker" {
		t.Fatalf("got %q", got)
	}
	h.expectNothing(t)
}

func TestSessionIDs(t *testing.T) {
	t.Run("assigned when empty", func(t *testing.T) {
		fake := &fakeSessions{}
		r := control.New(startSessions(t, fake), "edge", nil)
		runRouter(t, r)
		h := newRecHandler()
		resp, _ := connect(t, r, "", h)
		id := resp.GetSession().GetId()
		if id == "" {
			t.Fatalf("no session id")
		}
		fake.nextStream(t).send(t, &pb.ControlResponse{SessionId: id, Order: &pb.ControlResponse_Event{Event: &pb.Event{Id: "x"}}})
		if got := h.next(t); got != "event:x" {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("hub's choice wins", func(t *testing.T) {
		fake := &fakeSessions{renameTo: "hub-id"}
		r := control.New(startSessions(t, fake), "edge", nil)
		runRouter(t, r)
		h := newRecHandler()
		connect(t, r, "mine", h)
		stream := fake.nextStream(t)
		stream.send(t, &pb.ControlResponse{SessionId: "mine", Order: &pb.ControlResponse_Event{Event: &pb.Event{Id: "old"}}})
		stream.send(t, &pb.ControlResponse{SessionId: "hub-id", Order: &pb.ControlResponse_Event{Event: &pb.Event{Id: "new"}}})
		if got := h.next(t); got != "event:new" {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("duplicate refused", func(t *testing.T) {
		r := control.New(startSessions(t, &fakeSessions{}), "edge", nil)
		runRouter(t, r)
		connect(t, r, "dup", newRecHandler())
		_, _, err := r.Connect(ctxTimeout(t), &pb.Session{Id: "dup"}, newRecHandler())
		if !errors.Is(err, control.ErrDuplicateSession) {
			t.Fatalf("err %v, want ErrDuplicateSession", err)
		}
	})
}

// TestHubWithoutHeaders: a hub that sends no headers on the Control stream
// still lets Connect through, after a grace period.
func TestHubWithoutHeaders(t *testing.T) {
	fake := &fakeSessions{noHeaders: true}
	r := control.New(startSessions(t, fake), "edge", nil)
	runRouter(t, r)
	h := newRecHandler()
	connect(t, r, "s", h)
	fake.nextStream(t).send(t, &pb.ControlResponse{SessionId: "s", Order: &pb.ControlResponse_Event{Event: &pb.Event{Id: "x"}}})
	if got := h.next(t); got != "event:x" {
		t.Fatalf("got %q", got)
	}
}

func TestRunOnce(t *testing.T) {
	r := control.New(startSessions(t, &fakeSessions{}), "edge", nil)
	runRouter(t, r)
	// Connect proves the first Run is up before the second starts.
	connect(t, r, "s", newRecHandler())
	if err := r.Run(context.Background()); !errors.Is(err, control.ErrRunning) {
		t.Fatalf("second Run: %v", err)
	}
}
