package hub_test

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/services/hub"
)

// wantCode fails unless err has the code; for INVALID_ARGUMENT it also
// checks the field the details name.
func wantCode(t *testing.T, err error, code codes.Code, field string) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != code {
		t.Fatalf("status %v %q, want %v", st.Code(), st.Message(), code)
	}
	if field == "" {
		return
	}
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok && len(br.FieldViolations) == 1 && br.FieldViolations[0].Field == field {
			return
		}
	}
	t.Fatalf("status %q: details %v do not name field %q", st.Message(), st.Details(), field)
}

func TestPublishValidation(t *testing.T) {
	c := start(t, hub.Options{MaxPayload: 64, Namespaces: []hub.Namespace{{Name: "chat"}}})
	ok := func() *pb.Event { return &pb.Event{Channel: "news", Data: `{}`} }
	with := func(f func(*pb.Event)) *pb.Event { ev := ok(); f(ev); return ev }
	tests := []struct {
		name  string
		ev    *pb.Event
		code  codes.Code
		field string
	}{
		{"no event", nil, codes.InvalidArgument, "event"},
		{"no data", with(func(e *pb.Event) { e.Data = "" }), codes.InvalidArgument, "event.data"},
		{"data not JSON", with(func(e *pb.Event) { e.Data = "{" }), codes.InvalidArgument, "event.data"},
		{"data over the limit", with(func(e *pb.Event) { e.Data = `"` + strings.Repeat("x", 64) + `"` }), codes.InvalidArgument, "event.data"},
		{"previous not JSON", with(func(e *pb.Event) { e.Previous = "nope" }), codes.InvalidArgument, "event.previous"},
		{"info not JSON", with(func(e *pb.Event) { e.Publisher = &pb.Publisher{Info: "nope"} }), codes.InvalidArgument, "event.publisher.info"},
		{"every tenant", with(func(e *pb.Event) { e.Tenant = "*" }), codes.InvalidArgument, "event.tenant"},
		{"no channel", with(func(e *pb.Event) { e.Channel = "" }), codes.InvalidArgument, "event.channel"},
		{"channel *", with(func(e *pb.Event) { e.Channel = "*" }), codes.InvalidArgument, "event.channel"},
		{"channel too long", with(func(e *pb.Event) { e.Channel = strings.Repeat("c", hub.MaxChannelLength+1) }), codes.InvalidArgument, "event.channel"},
		{"directed", with(func(e *pb.Event) { e.To = &pb.Recipient{User: "1"} }), codes.InvalidArgument, "event.to"},
		{"unknown namespace", with(func(e *pb.Event) { e.Channel = "other:x" }), codes.NotFound, ""},
		{"longest channel", with(func(e *pb.Event) { e.Channel = strings.Repeat("c", hub.MaxChannelLength) }), codes.OK, ""},
		{"namespace", with(func(e *pb.Event) { e.Channel = "chat:x" }), codes.OK, ""},
		{"private channel of a namespace", with(func(e *pb.Event) { e.Channel = "$chat:x" }), codes.OK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Hub.Publish(ctxFor(t), &pb.PublishRequest{Event: tt.ev})
			wantCode(t, err, tt.code, tt.field)
		})
	}
}

func TestSubscribeValidation(t *testing.T) {
	c := start(t, hub.Options{})
	tests := []struct {
		name  string
		req   *pb.SubscribeRequest
		code  codes.Code
		field string
	}{
		{"no filter", &pb.SubscribeRequest{}, codes.InvalidArgument, "filters"},
		{"bad channel", &pb.SubscribeRequest{Filters: []*pb.Filter{{}, {Channels: []string{"ok", ""}}}}, codes.InvalidArgument, "filters[1].channels[1]"},
		{"since without position", &pb.SubscribeRequest{Filters: []*pb.Filter{{}}, Since: []*pb.ChannelPosition{{Channel: "a"}}}, codes.InvalidArgument, "since[0].position"},
		{"unknown namespace", &pb.SubscribeRequest{Filters: []*pb.Filter{{Channels: []string{"ns:a"}}}}, codes.NotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := c.Hub.Subscribe(ctxFor(t), tt.req)
			if err == nil {
				_, err = st.Recv()
			}
			wantCode(t, err, tt.code, tt.field)
		})
	}
}

// Events reach the streams whose filters match them, in publish order and
// with consecutive offsets; others are not delivered (shown with a barrier
// event published after them).
func TestPublishSubscribe(t *testing.T) {
	c := start(t, hub.Options{})
	machines := subscribe(t, c.Hub, &pb.SubscribeRequest{Filters: []*pb.Filter{{Channels: []string{"machines"}, Names: []string{"update", "barrier"}}}})
	tenant := subscribe(t, c.Hub, &pb.SubscribeRequest{Filters: []*pb.Filter{{Tenant: "t1"}}})

	publish(t, c.Hub, &pb.Event{Channel: "machines", Name: "create", Data: `1`})
	first := publish(t, c.Hub, &pb.Event{Channel: "machines", Name: "update", Data: `2`})
	publish(t, c.Hub, &pb.Event{Channel: "leases", Name: "update", Data: `3`})
	publish(t, c.Hub, &pb.Event{Channel: "machines", Name: "update", Data: `4`, Tenant: "t1"})
	publish(t, c.Hub, &pb.Event{Channel: "machines", Name: "update", Data: `5`})
	publish(t, c.Hub, &pb.Event{Channel: "machines", Name: "barrier", Data: `0`})
	publish(t, c.Hub, &pb.Event{Channel: "x", Name: "barrier", Data: `0`, Tenant: "t1"})

	for _, want := range []string{"2", "5", "0"} {
		ev := next(t, machines)
		if ev.Data != want || ev.Tenant != "" {
			t.Fatalf("machines stream got %v, want data %s", ev, want)
		}
	}
	if ev := next(t, tenant); ev.Data != "4" || ev.Tenant != "t1" {
		t.Fatalf("tenant stream got %v, want the t1 event", ev)
	}
	if ev := next(t, tenant); ev.Channel != "x" {
		t.Fatalf("tenant stream got %v, want its barrier", ev)
	}

	// Resume after the first update: the later machines events of the
	// default tenant are replayed from history, in order, before live ones.
	resumed := subscribe(t, c.Hub, &pb.SubscribeRequest{
		Filters: []*pb.Filter{{Channels: []string{"machines"}}},
		Since:   []*pb.ChannelPosition{{Channel: "machines", Position: first.Position}},
	})
	for i, want := range []string{"5", "0"} {
		ev := next(t, resumed)
		if ev.Data != want || ev.Offset != first.Position.Offset+uint64(i)+1 || ev.Epoch != first.Position.Epoch {
			t.Fatalf("replayed %v, want data %s at offset %d", ev, want, first.Position.Offset+uint64(i)+1)
		}
	}
}

func TestHistoryAndNamespaces(t *testing.T) {
	c := start(t, hub.Options{
		NoPresence: true,
		Namespaces: []hub.Namespace{
			{Name: "chat", HistorySize: 2, HistoryTTL: time.Minute, Presence: true},
			{Name: "live"},
		},
	})
	for _, d := range []string{"1", "2", "3"} {
		publish(t, c.Hub, &pb.Event{Channel: "chat:room", Data: d})
		publish(t, c.Hub, &pb.Event{Channel: "news", Data: d})
	}
	history := func(ch string) ([]*pb.Event, error) {
		r, err := c.Hub.History(ctxFor(t), &pb.HistoryRequest{Channel: ch})
		return r.GetEvents(), err
	}
	evs, err := history("chat:room")
	if err != nil || len(evs) != 2 || evs[0].Data != "2" || evs[1].Data != "3" {
		t.Fatalf("chat:room history = %v, %v; want the newest two (namespace history_size 2)", evs, err)
	}
	if evs, err := history("news"); err != nil || len(evs) != 3 {
		t.Fatalf("news history = %v, %v; want all three (default size)", evs, err)
	}
	_, err = history("live:x")
	wantCode(t, err, codes.FailedPrecondition, "")
	_, err = history("other:x")
	wantCode(t, err, codes.NotFound, "")
	_, err = c.Hub.Presence(ctxFor(t), &pb.PresenceRequest{Channel: "news"})
	wantCode(t, err, codes.FailedPrecondition, "")
	if _, err := c.Hub.Presence(ctxFor(t), &pb.PresenceRequest{Channel: "chat:room"}); err != nil {
		t.Fatalf("presence of a namespace that keeps it: %v", err)
	}
}

// A session in a channel is in its presence until it leaves or closes.
func TestPresence(t *testing.T) {
	c := start(t, hub.Options{})
	ctx := ctxFor(t)
	connect := func(user string) string {
		r, err := c.Sessions.Connect(ctx, &pb.ConnectRequest{Session: &pb.Session{User: user, Face: "test"}})
		if err != nil {
			t.Fatal(err)
		}
		return r.Session.Id
	}
	s1, s2, s3 := connect("1"), connect("1"), connect("2")
	for _, s := range []string{s1, s2, s3} {
		if _, err := c.Sessions.Join(ctx, &pb.JoinRequest{SessionId: s, Channels: []string{"room"}}); err != nil {
			t.Fatal(err)
		}
	}
	stats := func() (uint32, uint32) {
		r, err := c.Hub.PresenceStats(ctx, &pb.PresenceStatsRequest{Channel: "room"})
		if err != nil {
			t.Fatal(err)
		}
		return r.NumSessions, r.NumUsers
	}
	if n, u := stats(); n != 3 || u != 2 {
		t.Fatalf("stats %d sessions %d users, want 3 and 2", n, u)
	}
	if _, err := c.Sessions.Leave(ctx, &pb.LeaveRequest{SessionId: s1, Channels: []string{"room"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Sessions.Close(ctx, &pb.CloseRequest{SessionId: s3}); err != nil {
		t.Fatal(err)
	}
	r, err := c.Hub.Presence(ctx, &pb.PresenceRequest{Channel: "room"})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Sessions) != 1 || r.Sessions[0].Id != s2 || r.Sessions[0].User != "1" {
		t.Fatalf("presence = %v, want only %s", r.Sessions, s2)
	}
	_, err = c.Sessions.Join(ctx, &pb.JoinRequest{SessionId: "gone", Channels: []string{"room"}})
	wantCode(t, err, codes.NotFound, "")
	_, err = c.Sessions.Join(ctx, &pb.JoinRequest{SessionId: s2, Channels: []string{"dialog#2"}})
	wantCode(t, err, codes.PermissionDenied, "")
}

// End users read only their own user-limited channels and may not publish.
func TestUserLimitedChannels(t *testing.T) {
	c := start(t, hub.Options{})
	u42, u7 := c.asUser(t, "42"), c.asUser(t, "7")
	publish(t, c.Hub, &pb.Event{Channel: "news#42,43", Data: `"for 42 and 43"`})

	if _, err := u42.History(ctxFor(t), &pb.HistoryRequest{Channel: "news#42,43"}); err != nil {
		t.Fatalf("42 reading its channel: %v", err)
	}
	_, err := u7.History(ctxFor(t), &pb.HistoryRequest{Channel: "news#42,43"})
	wantCode(t, err, codes.PermissionDenied, "")
	st, err := u7.Subscribe(ctxFor(t), &pb.SubscribeRequest{Filters: []*pb.Filter{{Channels: []string{"news#42"}}}})
	if err == nil {
		_, err = st.Recv()
	}
	wantCode(t, err, codes.PermissionDenied, "")
	_, err = u42.Publish(ctxFor(t), &pb.PublishRequest{Event: &pb.Event{Channel: "news", Data: `1`}})
	wantCode(t, err, codes.PermissionDenied, "")

	// A user's wildcard stream gets its own limited channels and public
	// ones, never another user's.
	mine := subscribe(t, u42, &pb.SubscribeRequest{Filters: []*pb.Filter{{}}})
	publish(t, c.Hub, &pb.Event{Channel: "news#7", Data: `"for 7"`})
	publish(t, c.Hub, &pb.Event{Channel: "news#42", Data: `"for 42"`})
	publish(t, c.Hub, &pb.Event{Channel: "news", Data: `"for all"`})
	for _, want := range []string{`"for 42"`, `"for all"`} {
		if ev := next(t, mine); ev.Data != want {
			t.Fatalf("user 42 got %v, want %s", ev, want)
		}
	}
}
