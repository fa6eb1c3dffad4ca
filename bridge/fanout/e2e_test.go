package fanout_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/switchboard-hub/switchboard/bridge/control"
	"github.com/switchboard-hub/switchboard/bridge/fanout"
	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/app/apptest"
)

// TestAgainstRealServer runs the shared bridge pieces against a real
// Switchboard server: many sinks share one stream of the real hub, and a
// control Router receives the hub's orders for its session.
func TestAgainstRealServer(t *testing.T) {
	srv := apptest.Start(t, nil)
	ctx := ctxTimeout(t)

	t.Run("fanout", func(t *testing.T) {
		f := fanout.New(srv.Hub, fanout.Options{})
		enc := &countingEncoder{}
		filters := []*pb.Filter{{Channels: []string{"e2e"}}}
		key := fanout.FilterSetKey(filters)
		sinks := make([]*recSink, 20)
		for i := range sinks {
			sinks[i] = newRecSink()
			cancel, err := f.Subscribe(ctx, "e2e", key, &pb.SubscribeRequest{Filters: filters}, enc.encode, sinks[i])
			if err != nil {
				t.Fatalf("subscribe: %v", err)
			}
			t.Cleanup(cancel)
		}
		// Subscribe has returned: nothing published from here on is missed.
		const events = 3
		ids := make([]string, events)
		for i := range events {
			resp, err := srv.Hub.Publish(ctx, &pb.PublishRequest{Event: &pb.Event{Channel: "e2e", Data: fmt.Sprintf(`{"n":%d}`, i)}})
			if err != nil {
				t.Fatalf("publish: %v", err)
			}
			ids[i] = resp.GetId()
		}
		for _, s := range sinks {
			for i := range events {
				ev, frame := s.next(t)
				if ev.GetId() != ids[i] || string(frame) != "frame:"+ids[i] {
					t.Fatalf("event %d: %v %q", i, ev, frame)
				}
			}
		}
		if got := enc.calls.Load(); got != events {
			t.Fatalf("encoder called %d times, want %d", got, events)
		}
	})

	t.Run("control", func(t *testing.T) {
		r := control.New(srv.Sessions, "edge-e2e", nil)
		runCtx, stop := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- r.Run(runCtx) }()
		t.Cleanup(func() { stop(); <-done })

		h := &orderHandler{orders: make(chan string, 8)}
		resp, closeSession, err := r.Connect(ctx, &pb.Session{User: "alice", Face: "test"}, h)
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		defer closeSession()
		id := resp.GetSession().GetId()

		if _, err := srv.Hub.Send(ctx, &pb.SendRequest{Event: &pb.Event{Channel: "msg", Data: `"hi"`, To: &pb.Recipient{Session: id}}}); err != nil {
			t.Fatalf("send: %v", err)
		}
		if got := h.next(t); got != `event:"hi"` {
			t.Fatalf("got %q", got)
		}
		if _, err := srv.Hub.Disconnect(ctx, &pb.DisconnectRequest{User: "alice", Reason: "bye"}); err != nil {
			t.Fatalf("disconnect: %v", err)
		}
		if got := h.next(t); got != "disconnect:bye" {
			t.Fatalf("got %q", got)
		}
	})
}

type orderHandler struct{ orders chan string }

func (h *orderHandler) Disconnect(reason string)   { h.orders <- "disconnect:" + reason }
func (h *orderHandler) Unsubscribe(channel string) { h.orders <- "unsubscribe:" + channel }
func (h *orderHandler) Deliver(ev *pb.Event)       { h.orders <- "event:" + ev.GetData() }

func (h *orderHandler) next(t *testing.T) string {
	t.Helper()
	select {
	case o := <-h.orders:
		return o
	case <-time.After(waitTimeout):
		t.Fatalf("no order")
		return ""
	}
}
