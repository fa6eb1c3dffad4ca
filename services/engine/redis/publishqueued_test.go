package redis_test

import (
	"context"
	"testing"
	"time"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/services/engine"
	"github.com/switchboard-hub/switchboard/services/engine/redis"
)

// TestPublishQueued: one call publishes the event (history, live delivery)
// and appends it, as published, to each target's queue after the bodies
// already there, bounded; the items come back with the event decoded, its
// offset and epoch set, and the target's flag.
func TestPublishQueued(t *testing.T) {
	e := newEngine(t, testPrefix(t), redis.Options{})
	h := run(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.Subscribe(ctx, "t", "c"); err != nil {
		t.Fatal(err)
	}
	publishUntilDelivered(t, e, h, "t", "c") // the link is up

	if _, err := e.WebhookPush(ctx, []engine.WebhookPush{{Endpoint: "a", Body: []byte(`{"hello":1}`)}}, 0); err != nil {
		t.Fatal(err)
	}
	opts := engine.HistoryOptions{Size: 10, TTL: time.Minute}
	targets := []engine.WebhookTarget{{Endpoint: "a"}, {Endpoint: "b", Full: true}}
	var evs []*pb.Event
	for i := range 3 {
		ev := &pb.Event{Tenant: "t", Channel: "c", Name: "n", Data: `{"i":` + string(rune('0'+i)) + `}`}
		pos, dropped, err := e.PublishQueued(ctx, ev, opts, targets, 2)
		if err != nil {
			t.Fatal(err)
		}
		if pos.Offset != uint64(i+1) || pos.Epoch == "" || ev.Offset != pos.Offset || ev.Epoch != pos.Epoch || ev.Id == "" {
			t.Fatalf("publish %d: position %v, event %v", i, pos, ev)
		}
		want := map[string]int{}
		switch i {
		case 1: // a: hello and two events
			want["a"] = 1
		case 2:
			want["a"], want["b"] = 1, 1
		}
		if len(dropped) != len(want) || dropped["a"] != want["a"] || dropped["b"] != want["b"] {
			t.Fatalf("publish %d dropped %v, want %v", i, dropped, want)
		}
		got := receive(t, h, ev.Id)
		if got.Offset != pos.Offset || got.Data != ev.Data {
			t.Fatalf("delivered %v, published %v", got, ev)
		}
		evs = append(evs, ev)
	}
	hist, _, err := e.History(ctx, "t", "c", engine.HistoryQuery{})
	if err != nil || len(hist) != 3 {
		t.Fatalf("history: %d events, %v", len(hist), err)
	}
	for _, ep := range []string{"a", "b"} {
		items, err := e.WebhookPeek(ctx, ep, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(items) != 2 {
			t.Fatalf("%s: %d items, want the newest 2", ep, len(items))
		}
		for i, it := range items {
			want := evs[i+1]
			if it.Body != nil || it.Event == nil || it.Full != (ep == "b") {
				t.Fatalf("%s item %d: %+v", ep, i, it)
			}
			if it.Event.Id != want.Id || it.Event.Offset != want.Offset || it.Event.Epoch != want.Epoch || it.Event.Data != want.Data || it.Event.Time == nil {
				t.Fatalf("%s item %d: event %v, published %v", ep, i, it.Event, want)
			}
		}
		if n, err := e.WebhookLen(ctx, ep); n != 2 || err != nil {
			t.Fatalf("%s len %d, %v", ep, n, err)
		}
		if err := e.WebhookAck(ctx, ep, items[0].ID); err != nil {
			t.Fatal(err)
		}
		if rest, _ := e.WebhookPeek(ctx, ep, 10); len(rest) != 1 || rest[0].ID != items[1].ID {
			t.Fatalf("%s after ack: %+v", ep, rest)
		}
	}
	// Without targets it is Publish.
	pos, dropped, err := e.PublishQueued(ctx, &pb.Event{Tenant: "t", Channel: "c", Data: "1"}, opts, nil, 2)
	if err != nil || pos.Offset != 4 || len(dropped) != 0 {
		t.Fatalf("no targets: %v %v %v", pos, dropped, err)
	}
}
