package hub_test

import (
	"strconv"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/services/hub"
)

// stoppedAt returns the index a failed PublishBatch names, or -1.
func stoppedAt(t *testing.T, err error) int {
	t.Helper()
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.Reason == "PUBLISH_BATCH_STOPPED" {
			i, err := strconv.Atoi(info.Metadata["index"])
			if err != nil {
				t.Fatalf("index %q: %v", info.Metadata["index"], err)
			}
			return i
		}
	}
	return -1
}

func batchOf(evs ...*pb.Event) *pb.PublishBatchRequest {
	req := &pb.PublishBatchRequest{}
	for _, ev := range evs {
		req.Requests = append(req.Requests, &pb.PublishRequest{Event: ev})
	}
	return req
}

// TestPublishBatch: the events of a batch are published in order, as
// successive Publish calls would publish them: offsets per channel follow
// the request order, every subscriber sees them in that order, history
// keeps them.
func TestPublishBatch(t *testing.T) {
	c := start(t, hub.Options{})
	st := subscribe(t, c.Hub, &pb.SubscribeRequest{Filters: []*pb.Filter{{Channels: []string{"a", "b"}}}})
	publish(t, c.Hub, &pb.Event{Channel: "a", Data: `0`})

	req := batchOf(
		&pb.Event{Channel: "a", Data: `1`, Id: "mine"},
		&pb.Event{Channel: "b", Data: `2`},
		&pb.Event{Channel: "a", Data: `3`},
	)
	resp, err := c.Hub.PublishBatch(ctxFor(t), req)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Results) != 3 {
		t.Fatalf("%d results, want 3", len(resp.Results))
	}
	if resp.Results[0].Id != "mine" || resp.Results[1].Id == "" {
		t.Errorf("ids %q %q", resp.Results[0].Id, resp.Results[1].Id)
	}
	for i, want := range []uint64{2, 1, 3} {
		if got := resp.Results[i].GetPosition().GetOffset(); got != want {
			t.Errorf("result %d: offset %d, want %d", i, got, want)
		}
	}
	if next(t, st).Data != `0` {
		t.Fatal("first event")
	}
	for i, want := range []string{`1`, `2`, `3`} {
		ev := next(t, st)
		if ev.Data != want || ev.Id != resp.Results[i].Id || ev.Offset != resp.Results[i].Position.Offset {
			t.Fatalf("event %d: %v, want data %s as %v", i, ev, want, resp.Results[i])
		}
	}
	h, err := c.Hub.History(ctxFor(t), &pb.HistoryRequest{Channel: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Events) != 3 || h.Events[1].Data != `1` || h.Events[2].Data != `3` {
		t.Fatalf("history of a: %v", h.Events)
	}
}

// TestPublishBatchStops: a batch stops at the first event that fails, with
// that event's own status and its index; the events before it stay
// published, the events after it are not tried.
func TestPublishBatchStops(t *testing.T) {
	c := start(t, hub.Options{Namespaces: []hub.Namespace{{Name: "chat"}}})
	tests := []struct {
		name  string
		bad   *pb.Event
		code  codes.Code
		field string
	}{
		{"bad data", &pb.Event{Channel: "x", Data: `{`}, codes.InvalidArgument, "requests[1].event.data"},
		{"no channel", &pb.Event{Data: `1`}, codes.InvalidArgument, "requests[1].event.channel"},
		{"no event", nil, codes.InvalidArgument, "requests[1].event"},
		{"directed", &pb.Event{Channel: "x", Data: `1`, To: &pb.Recipient{User: "u"}}, codes.InvalidArgument, "requests[1].event.to"},
		{"sys channel", &pb.Event{Channel: "sys:x", Data: `1`}, codes.InvalidArgument, "requests[1].event.channel"},
		{"unknown namespace", &pb.Event{Channel: "nope:x", Data: `1`}, codes.NotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch := "stop-" + tt.name
			_, err := c.Hub.PublishBatch(ctxFor(t), batchOf(
				&pb.Event{Channel: ch, Data: `"before"`},
				tt.bad,
				&pb.Event{Channel: ch, Data: `"after"`},
			))
			wantCode(t, err, tt.code, tt.field)
			if i := stoppedAt(t, err); i != 1 {
				t.Fatalf("stopped at %d, want 1 (%v)", i, err)
			}
			h, err := c.Hub.History(ctxFor(t), &pb.HistoryRequest{Channel: ch})
			if err != nil {
				t.Fatal(err)
			}
			if len(h.Events) != 1 || h.Events[0].Data != `"before"` {
				t.Fatalf("history %v, want only the event before", h.Events)
			}
		})
	}
}

func TestPublishBatchBounds(t *testing.T) {
	c := start(t, hub.Options{})
	_, err := c.Hub.PublishBatch(ctxFor(t), &pb.PublishBatchRequest{})
	wantCode(t, err, codes.InvalidArgument, "requests")
	big := &pb.PublishBatchRequest{}
	for range hub.MaxPublishBatch + 1 {
		big.Requests = append(big.Requests, &pb.PublishRequest{Event: &pb.Event{Channel: "x", Data: `1`}})
	}
	_, err = c.Hub.PublishBatch(ctxFor(t), big)
	wantCode(t, err, codes.InvalidArgument, "requests")
	h, err := c.Hub.History(ctxFor(t), &pb.HistoryRequest{Channel: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Events) != 0 {
		t.Fatalf("a refused batch published %d events", len(h.Events))
	}
	// A user token may not publish.
	_, err = c.asUser(t, "42").PublishBatch(ctxFor(t), batchOf(&pb.Event{Channel: "x", Data: `1`}))
	wantCode(t, err, codes.PermissionDenied, "")
}
