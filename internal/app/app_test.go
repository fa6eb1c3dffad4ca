package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/app"
	"github.com/switchboard-hub/switchboard/internal/app/apptest"
	"github.com/switchboard-hub/switchboard/services/auth"
)

const wait = 5 * time.Second

// subscribe opens a stream and waits for its `subscribed` message.
func subscribe(t *testing.T, hub pb.HubServiceClient, req *pb.SubscribeRequest) (pb.HubService_SubscribeClient, *pb.Subscribed) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	st, err := hub.Subscribe(ctx, req)
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	msg, err := st.Recv()
	if err != nil {
		t.Fatalf("subscribe: first message: %v", err)
	}
	if msg.GetSubscribed() == nil {
		t.Fatalf("first message is %v, want subscribed", msg)
	}
	return st, msg.GetSubscribed()
}

// next returns the next event of a stream, skipping heartbeats, within wait.
func next(t *testing.T, st pb.HubService_SubscribeClient) *pb.SubscribeResponse {
	t.Helper()
	type result struct {
		msg *pb.SubscribeResponse
		err error
	}
	ch := make(chan result, 1)
	go func() {
		for {
			m, err := st.Recv()
			if err == nil && m.GetHeartbeat() != nil {
				continue
			}
			ch <- result{m, err}
			return
		}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("recv: %v", r.err)
		}
		return r.msg
	case <-time.After(wait):
		t.Fatalf("no message within %v", wait)
		return nil
	}
}

// streamErr reads until the stream ends and returns its status.
func streamErr(t *testing.T, st pb.HubService_SubscribeClient) *status.Status {
	t.Helper()
	ch := make(chan error, 1)
	go func() {
		for {
			if _, err := st.Recv(); err != nil {
				ch <- err
				return
			}
		}
	}()
	select {
	case err := <-ch:
		return status.Convert(err)
	case <-time.After(wait):
		t.Fatalf("stream did not end within %v", wait)
		return nil
	}
}

func publish(t *testing.T, hub pb.HubServiceClient, ev *pb.Event) *pb.PublishResponse {
	t.Helper()
	resp, err := hub.Publish(context.Background(), &pb.PublishRequest{Event: ev})
	if err != nil {
		t.Fatalf("publish %v: %v", ev, err)
	}
	return resp
}

func TestPublishReachesGRPCSubscriber(t *testing.T) {
	srv := apptest.Start(t, nil)
	st, _ := subscribe(t, srv.Hub, &pb.SubscribeRequest{Filters: []*pb.Filter{{Channels: []string{"news"}}}})
	data := `{"b":1, "a":[1,2,3],"big":12345678901234567890}`
	resp := publish(t, srv.Hub, &pb.Event{Channel: "news", Name: "update", Data: data})
	ev := next(t, st).GetEvent()
	if ev.GetData() != data {
		t.Fatalf("data = %q, want the exact bytes %q", ev.GetData(), data)
	}
	if ev.Id != resp.Id || ev.Offset != resp.Position.Offset || ev.Epoch != resp.Position.Epoch || ev.Offset != 1 {
		t.Fatalf("event %v does not match publish response %v", ev, resp)
	}
	if ev.Time == nil || ev.Name != "update" {
		t.Fatalf("event %v: want time and name set", ev)
	}
}

func TestFilterMatching(t *testing.T) {
	srv := apptest.Start(t, nil)
	events := []*pb.Event{
		{Channel: "machines", Name: "create", Key: "m1", Data: "1"},
		{Channel: "machines", Name: "update", Key: "m2", Data: "2"},
		{Channel: "profiles", Name: "update", Key: "", Data: "3"},
		{Channel: "profiles", Subject: "s", Name: "save", Key: "global", Code: 4001, Data: "4"},
		{Tenant: "t2", Channel: "machines", Name: "create", Key: "m1", Data: "5"},
	}
	tests := []struct {
		name   string
		filter *pb.Filter
		want   []string
	}{
		{"exact channel", &pb.Filter{Channels: []string{"machines"}}, []string{"1", "2"}},
		{"star channel", &pb.Filter{Channels: []string{"*"}}, []string{"1", "2", "3", "4"}},
		{"empty filter", &pb.Filter{}, []string{"1", "2", "3", "4"}},
		{"star name", &pb.Filter{Names: []string{"*"}}, []string{"1", "2", "3", "4"}},
		{"name any channel", &pb.Filter{Names: []string{"update"}}, []string{"2", "3"}},
		{"exact key never matches empty", &pb.Filter{Channels: []string{"profiles"}, Keys: []string{"global"}}, []string{"4"}},
		{"star key matches empty", &pb.Filter{Channels: []string{"profiles"}, Keys: []string{"*"}}, []string{"3", "4"}},
		{"list any-of", &pb.Filter{Channels: []string{"machines", "profiles"}, Names: []string{"create", "save"}}, []string{"1", "4"}},
		{"codes", &pb.Filter{Codes: []int32{4001}}, []string{"4"}},
		{"subject", &pb.Filter{Subjects: []string{"s"}}, []string{"4"}},
		{"other tenant", &pb.Filter{Tenant: "t2"}, []string{"5"}},
		{"every tenant", &pb.Filter{Tenant: "*", Keys: []string{"m1"}}, []string{"1", "5"}},
	}
	// Each stream also takes channel "end" of its tenant: the marker that
	// ends its expected sequence.
	streams := make([]pb.HubService_SubscribeClient, len(tests))
	for i, tc := range tests {
		end := &pb.Filter{Tenant: tc.filter.Tenant, Channels: []string{"end"}}
		streams[i], _ = subscribe(t, srv.Hub, &pb.SubscribeRequest{Filters: []*pb.Filter{tc.filter, end}})
	}
	for _, ev := range events {
		publish(t, srv.Hub, ev)
	}
	for _, tenant := range []string{"", "t2"} {
		publish(t, srv.Hub, &pb.Event{Tenant: tenant, Channel: "end", Data: `"end"`})
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for {
				ev := next(t, streams[i]).GetEvent()
				if ev.Channel == "end" {
					break
				}
				got = append(got, ev.Data)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestHistoryOrderSizeAndTTL(t *testing.T) {
	srv := apptest.Start(t, func(c *app.Config) {
		c.HistorySize = 3
		c.Namespaces = []app.Namespace{{Name: "short", HistorySize: 10, HistoryTTL: app.Duration(300 * time.Millisecond)}, {Name: "none"}}
	})
	ctx := context.Background()
	for i := 1; i <= 5; i++ {
		publish(t, srv.Hub, &pb.Event{Channel: "news", Data: fmt.Sprint(i)})
	}
	h, err := srv.Hub.History(ctx, &pb.HistoryRequest{Channel: "news"})
	if err != nil {
		t.Fatal(err)
	}
	if got := datas(h.Events); got != "3,4,5" {
		t.Fatalf("history = %s, want the newest 3 oldest first", got)
	}
	if h.Position.Offset != 5 {
		t.Fatalf("top offset = %d, want 5", h.Position.Offset)
	}
	h, _ = srv.Hub.History(ctx, &pb.HistoryRequest{Channel: "news", Reverse: true, Limit: 2})
	if got := datas(h.Events); got != "5,4" {
		t.Fatalf("reverse limit 2 = %s, want 5,4", got)
	}

	publish(t, srv.Hub, &pb.Event{Channel: "short:a", Data: "1"})
	deadline := time.Now().Add(wait)
	for {
		h, err := srv.Hub.History(ctx, &pb.HistoryRequest{Channel: "short:a"})
		if err != nil {
			t.Fatal(err)
		}
		if len(h.Events) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("event still in history after its TTL")
		}
		time.Sleep(50 * time.Millisecond)
	}

	_, err = srv.Hub.History(ctx, &pb.HistoryRequest{Channel: "none:a"})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("history of a namespace without history: %v, want FailedPrecondition", err)
	}
	_, err = srv.Hub.History(ctx, &pb.HistoryRequest{Channel: "nope:a"})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("history in an unknown namespace: %v, want NotFound", err)
	}
}

func datas(evs []*pb.Event) string {
	var s []string
	for _, e := range evs {
		s = append(s, e.Data)
	}
	return strings.Join(s, ",")
}

func TestResumeFromOffset(t *testing.T) {
	srv := apptest.Start(t, nil)
	var last *pb.PublishResponse
	for i := 1; i <= 3; i++ {
		last = publish(t, srv.Hub, &pb.Event{Channel: "feed", Data: fmt.Sprint(i)})
	}
	seen := &pb.StreamPosition{Offset: 1, Epoch: last.Position.Epoch}
	// Published while the client was away, after its position: 2, 3 (and 4 below, live).
	st, sub := subscribe(t, srv.Hub, &pb.SubscribeRequest{
		Filters: []*pb.Filter{{Channels: []string{"feed"}}},
		Since:   []*pb.ChannelPosition{{Channel: "feed", Position: seen}},
	})
	if len(sub.Positions) != 1 || sub.Positions[0].Position.Offset != 3 {
		t.Fatalf("subscribed positions = %v, want feed at 3", sub.Positions)
	}
	publish(t, srv.Hub, &pb.Event{Channel: "feed", Data: "4"})
	var got []string
	for range 3 {
		got = append(got, next(t, st).GetEvent().GetData())
	}
	if strings.Join(got, ",") != "2,3,4" {
		t.Fatalf("resumed events = %v, want exactly 2,3,4", got)
	}

	// A position from another epoch cannot be resumed.
	ctx := context.Background()
	bad, err := srv.Hub.Subscribe(ctx, &pb.SubscribeRequest{
		Filters: []*pb.Filter{{Channels: []string{"feed"}}},
		Since:   []*pb.ChannelPosition{{Channel: "feed", Position: &pb.StreamPosition{Offset: 1, Epoch: "old"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.Recv(); status.Code(err) != codes.OutOfRange {
		t.Fatalf("resume from another epoch: %v, want OutOfRange", err)
	}
}

func TestPresenceChannelsStatsNode(t *testing.T) {
	srv := apptest.Start(t, nil)
	ctx := context.Background()
	user := pb.NewHubServiceClient(apptest.Dial(t, srv.GRPCAddr, bearer(t, srv, "42")))
	_, sub := subscribe(t, user, &pb.SubscribeRequest{Filters: []*pb.Filter{{Channels: []string{"room"}}}})
	subscribe(t, srv.Hub, &pb.SubscribeRequest{Filters: []*pb.Filter{{Channels: []string{"room", "lobby"}}}})

	p, err := srv.Hub.Presence(ctx, &pb.PresenceRequest{Channel: "room"})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Sessions) != 2 {
		t.Fatalf("presence = %v, want 2 sessions", p.Sessions)
	}
	found := false
	for _, s := range p.Sessions {
		if s.Id == sub.SessionId && s.User == "42" && s.Face == "grpc" {
			found = true
		}
	}
	if !found {
		t.Fatalf("presence %v lacks session %s of user 42", p.Sessions, sub.SessionId)
	}
	ps, err := srv.Hub.PresenceStats(ctx, &pb.PresenceStatsRequest{Channel: "room"})
	if err != nil || ps.NumSessions != 2 || ps.NumUsers != 1 {
		t.Fatalf("presence stats = %v, %v; want 2 sessions, 1 user", ps, err)
	}
	chs, err := srv.Hub.Channels(ctx, &pb.ChannelsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range chs.Channels {
		names = append(names, fmt.Sprintf("%s=%d", c.Channel, c.NumSessions))
	}
	if strings.Join(names, ",") != "lobby=1,room=2" {
		t.Fatalf("channels = %v", names)
	}
	node, err := srv.Hub.Node(ctx, &pb.NodeRequest{})
	if err != nil || node.Node.Id == "" || node.Node.NumSubscriptions != 2 || node.Node.NumSessions != 2 {
		t.Fatalf("node = %v, %v", node, err)
	}
	stats, err := srv.Hub.Stats(ctx, &pb.StatsRequest{})
	if err != nil || len(stats.Nodes) != 1 || stats.Nodes[0].Id != node.Node.Id {
		t.Fatalf("stats = %v, %v", stats, err)
	}
	// A user token may read but not publish.
	_, err = user.Publish(ctx, &pb.PublishRequest{Event: &pb.Event{Channel: "room", Data: "1"}})
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("publish with a user token: %v, want PermissionDenied", err)
	}
}

func TestUnsubscribeAndDisconnectEndLiveStreams(t *testing.T) {
	srv := apptest.Start(t, nil)
	ctx := context.Background()
	user := pb.NewHubServiceClient(apptest.Dial(t, srv.GRPCAddr, bearer(t, srv, "42")))
	st, _ := subscribe(t, user, &pb.SubscribeRequest{Filters: []*pb.Filter{{Channels: []string{"a", "b"}}}})
	other, _ := subscribe(t, srv.Hub, &pb.SubscribeRequest{Filters: []*pb.Filter{{Channels: []string{"a"}}}})

	if _, err := srv.Hub.Unsubscribe(ctx, &pb.UnsubscribeRequest{User: "42", Channel: "a"}); err != nil {
		t.Fatal(err)
	}
	if u := next(t, st).GetUnsubscribed(); u.GetChannel() != "a" {
		t.Fatalf("want an unsubscribed notice for a, got %v", u)
	}
	publish(t, srv.Hub, &pb.Event{Channel: "a", Data: `"a"`})
	publish(t, srv.Hub, &pb.Event{Channel: "b", Data: `"b"`})
	if got := next(t, st).GetEvent().GetData(); got != `"b"` {
		t.Fatalf("after unsubscribe from a, got %s, want only b", got)
	}
	if got := next(t, other).GetEvent().GetData(); got != `"a"` {
		t.Fatalf("other user's stream got %s, want a", got)
	}
	p, _ := srv.Hub.Presence(ctx, &pb.PresenceRequest{Channel: "a"})
	if len(p.Sessions) != 1 {
		t.Fatalf("presence of a after unsubscribe = %v, want only the other stream", p.Sessions)
	}

	if _, err := srv.Hub.Disconnect(ctx, &pb.DisconnectRequest{User: "42", Reason: "banned"}); err != nil {
		t.Fatal(err)
	}
	s := streamErr(t, st)
	if s.Code() != codes.Aborted || !strings.Contains(s.Message(), "banned") {
		t.Fatalf("disconnected stream ended with %v, want Aborted with the reason", s)
	}
	publish(t, srv.Hub, &pb.Event{Channel: "a", Data: `"still"`})
	if got := next(t, other).GetEvent().GetData(); got != `"still"` {
		t.Fatalf("other stream after disconnect got %s", got)
	}
}

func TestBadInputIsInvalidArgument(t *testing.T) {
	srv := apptest.Start(t, func(c *app.Config) { c.MaxPayload = 100 })
	ctx := context.Background()
	tests := []struct {
		name  string
		ev    *pb.Event
		field string
	}{
		{"empty channel", &pb.Event{Data: "{}"}, "event.channel"},
		{"no data", &pb.Event{Channel: "c"}, "event.data"},
		{"invalid JSON", &pb.Event{Channel: "c", Data: "{nope"}, "event.data"},
		{"oversized", &pb.Event{Channel: "c", Data: `"` + strings.Repeat("x", 200) + `"`}, "event.data"},
		{"long channel", &pb.Event{Channel: strings.Repeat("c", 300), Data: "1"}, "event.channel"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := srv.Hub.Publish(ctx, &pb.PublishRequest{Event: tc.ev})
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), tc.field) {
				t.Fatalf("got %v, want InvalidArgument naming %s", err, tc.field)
			}
			body, _ := json.Marshal(map[string]any{"channel": tc.ev.Channel, "data": tc.ev.Data})
			code, resp := rest(t, srv, "/v1/publish", string(body))
			if code != http.StatusBadRequest || !strings.Contains(resp, tc.field) {
				t.Fatalf("REST: %d %s, want 400 naming %s", code, resp, tc.field)
			}
		})
	}
	for _, f := range []*pb.Filter{{Channels: []string{""}}, {Channels: []string{strings.Repeat("c", 300)}}} {
		st, err := srv.Hub.Subscribe(ctx, &pb.SubscribeRequest{Filters: []*pb.Filter{f}})
		if err == nil {
			_, err = st.Recv()
		}
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "filters[0].channels[0]") {
			t.Fatalf("malformed filter: %v", err)
		}
	}
	code, resp := rest(t, srv, "/v1/subscribe", `{"filters":[]}`)
	if code != http.StatusBadRequest || !strings.Contains(resp, "filters") {
		t.Fatalf("REST subscribe without filters: %d %s", code, resp)
	}
	code, _ = rest(t, srv, "/v1/publish", `{not json`)
	if code != http.StatusBadRequest {
		t.Fatalf("REST with a broken body: %d, want 400", code)
	}
	// Still up.
	publish(t, srv.Hub, &pb.Event{Channel: "c", Data: "1"})
}

// rest posts body to path with the test api key and returns status and body.
func rest(t *testing.T, srv *apptest.Server, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.HTTPURL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "apikey "+apptest.TestSecret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestRESTPublishAndStreamingSubscribe(t *testing.T) {
	srv := apptest.Start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.HTTPURL+"/v1/subscribe", strings.NewReader(`{"filters":[{"channels":["news"]}]}`))
	req.Header.Set("Authorization", "apikey "+apptest.TestSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	line := func() map[string]any {
		if !lines.Scan() {
			t.Fatalf("stream ended: %v", lines.Err())
		}
		var m map[string]any
		if err := json.Unmarshal(lines.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", lines.Bytes(), err)
		}
		return m
	}
	first := line()
	if _, ok := first["result"].(map[string]any)["subscribed"]; !ok {
		t.Fatalf("first line %v, want result.subscribed", first)
	}
	code, body := rest(t, srv, "/v1/publish", `{"channel":"news","name":"n","data":"{\"x\":1}"}`)
	if code != http.StatusOK || !strings.Contains(body, `"offset":"1"`) {
		t.Fatalf("REST publish: %d %s", code, body)
	}
	ev := line()["result"].(map[string]any)["event"].(map[string]any)
	if ev["data"] != `{"x":1}` || ev["channel"] != "news" || ev["name"] != "n" {
		t.Fatalf("REST stream event = %v", ev)
	}
	// And the gRPC side sees a REST publish too.
	st, _ := subscribe(t, srv.Hub, &pb.SubscribeRequest{Filters: []*pb.Filter{{Channels: []string{"news"}}}})
	rest(t, srv, "/v1/publish", `{"channel":"news","data":"2"}`)
	if got := next(t, st).GetEvent().GetData(); got != "2" {
		t.Fatalf("gRPC got %q", got)
	}
	// Credentials are required when an api_secret is set.
	r2, _ := http.Post(srv.HTTPURL+"/v1/publish", "application/json", strings.NewReader(`{"channel":"news","data":"1"}`))
	r2.Body.Close()
	if r2.StatusCode != http.StatusUnauthorized {
		t.Fatalf("REST without credentials: %d, want 401", r2.StatusCode)
	}
}

func TestSlowSubscriberIsCutOffOthersKeepUp(t *testing.T) {
	srv := apptest.Start(t, func(c *app.Config) { c.ClientQueueSize = 100 })
	filter := &pb.SubscribeRequest{Filters: []*pb.Filter{{Channels: []string{"firehose"}}}}
	fast, _ := subscribe(t, srv.Hub, filter)
	// A fixed small window: the slow client's transport buffers fill quickly.
	slowConn := apptest.Dial(t, srv.GRPCAddr, auth.APIKey(apptest.TestSecret), grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))
	slow, _ := subscribe(t, pb.NewHubServiceClient(slowConn), filter)

	// The publisher runs at most `window` events ahead of the fast reader,
	// well inside its queue of 100, so only the slow one can fall behind,
	// however the machine schedules the goroutines.
	const n, window = 600, 50
	payload := `"` + strings.Repeat("x", 2000) + `"`
	acks := make(chan struct{}, n)
	fastErr := make(chan error, 1)
	go func() {
		for count := 0; count < n; {
			m, err := fast.Recv()
			if err != nil {
				fastErr <- err
				return
			}
			if m.GetEvent() != nil {
				count++
				acks <- struct{}{}
			}
		}
	}()
	received := 0
	ack := func() {
		t.Helper()
		select {
		case <-acks:
			received++
		case err := <-fastErr:
			t.Fatalf("fast subscriber ended after %d of %d events: %v", received, n, err)
		case <-time.After(3 * wait):
			t.Fatalf("fast subscriber got %d of %d", received, n)
		}
	}
	for i := range n {
		if i >= window {
			ack()
		}
		publish(t, srv.Hub, &pb.Event{Channel: "firehose", Data: payload})
	}
	for received < n {
		ack()
	}
	s := streamErr(t, slow)
	if s.Code() != codes.ResourceExhausted || !strings.Contains(s.Message(), "slow consumer") {
		t.Fatalf("slow subscriber ended with %v, want ResourceExhausted slow consumer", s)
	}
}

func TestShutdownEndsStreamsWithUnavailable(t *testing.T) {
	srv := apptest.Start(t, nil)
	st, _ := subscribe(t, srv.Hub, &pb.SubscribeRequest{Filters: []*pb.Filter{{Channels: []string{"x"}}}})
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		done <- srv.App.Shutdown(ctx)
	}()
	if s := streamErr(t, st); s.Code() != codes.Unavailable {
		t.Fatalf("stream at shutdown: %v, want Unavailable", s)
	}
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

func bearer(t *testing.T, srv *apptest.Server, user string) auth.Bearer {
	return auth.Bearer(srv.Token(t, user))
}
