package app_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/app"
	"github.com/switchboard-hub/switchboard/internal/app/apptest"
)

// control opens an edge's Control stream and returns a channel of its orders.
func control(t *testing.T, srv *apptest.Server, edge string) <-chan *pb.ControlResponse {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	st, err := srv.Sessions.Control(ctx, &pb.ControlRequest{Edge: edge})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Header(); err != nil { // the stream is open on the server
		t.Fatal(err)
	}
	out := make(chan *pb.ControlResponse, 16)
	go func() {
		for {
			o, err := st.Recv()
			if err != nil {
				close(out)
				return
			}
			out <- o
		}
	}()
	return out
}

func order(t *testing.T, orders <-chan *pb.ControlResponse) *pb.ControlResponse {
	t.Helper()
	select {
	case o, ok := <-orders:
		if !ok {
			t.Fatal("control stream ended")
		}
		return o
	case <-time.After(wait):
		t.Fatal("no control order")
		return nil
	}
}

func TestSessionsControlOrders(t *testing.T) {
	srv := apptest.Start(t, nil)
	ctx := context.Background()
	orders := control(t, srv, "edge-1")
	c, err := srv.Sessions.Connect(ctx, &pb.ConnectRequest{Edge: "edge-1", Session: &pb.Session{User: "7", Face: "test", Client: "c1"}})
	if err != nil {
		t.Fatal(err)
	}
	sid := c.Session.Id
	if sid == "" || c.Session.Node == "" || c.Session.ConnectedAt == nil {
		t.Fatalf("session = %v", c.Session)
	}
	if _, err := srv.Sessions.Join(ctx, &pb.JoinRequest{SessionId: sid, Channels: []string{"room"}}); err != nil {
		t.Fatal(err)
	}
	p, _ := srv.Hub.Presence(ctx, &pb.PresenceRequest{Channel: "room"})
	if len(p.Sessions) != 1 || p.Sessions[0].Id != sid || p.Sessions[0].Face != "test" {
		t.Fatalf("presence = %v", p.Sessions)
	}

	// A directed event to the user reaches the edge for that session.
	resp, err := srv.Hub.Send(ctx, &pb.SendRequest{Event: &pb.Event{Channel: "msg", Name: "hi", Data: `"x"`, To: &pb.Recipient{User: "7"}}})
	if err != nil || !resp.Online {
		t.Fatalf("send = %v, %v; want online", resp, err)
	}
	if o := order(t, orders); o.SessionId != sid || o.GetEvent().GetData() != `"x"` {
		t.Fatalf("order = %v, want the event for %s", o, sid)
	}
	if _, err := srv.Hub.Unsubscribe(ctx, &pb.UnsubscribeRequest{User: "7", Channel: "room"}); err != nil {
		t.Fatal(err)
	}
	if o := order(t, orders); o.GetUnsubscribe().GetChannel() != "room" {
		t.Fatalf("order = %v, want unsubscribe room", o)
	}
	p, _ = srv.Hub.Presence(ctx, &pb.PresenceRequest{Channel: "room"})
	if len(p.Sessions) != 0 {
		t.Fatalf("presence after unsubscribe = %v", p.Sessions)
	}
	if _, err := srv.Hub.Disconnect(ctx, &pb.DisconnectRequest{User: "7", Reason: "bye"}); err != nil {
		t.Fatal(err)
	}
	if o := order(t, orders); o.GetDisconnect().GetReason() != "bye" {
		t.Fatalf("order = %v, want disconnect", o)
	}
	if _, err := srv.Sessions.Close(ctx, &pb.CloseRequest{SessionId: sid}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Sessions.Close(ctx, &pb.CloseRequest{SessionId: sid}); status.Code(err) != codes.NotFound {
		t.Fatalf("second close: %v, want NotFound", err)
	}
}

func TestSendQueuesForOfflineUser(t *testing.T) {
	srv := apptest.Start(t, func(c *app.Config) { c.UserQueueSize = 2 })
	ctx := context.Background()
	for _, d := range []string{"1", "2", "3"} {
		resp, err := srv.Hub.Send(ctx, &pb.SendRequest{QueueIfOffline: true, Event: &pb.Event{Channel: "msg", Data: d, To: &pb.Recipient{User: "8"}}})
		if err != nil || resp.Online || !resp.Queued {
			t.Fatalf("send = %v, %v; want queued", resp, err)
		}
	}
	// A face that cannot show queued events leaves the queue alone.
	c0, err := srv.Sessions.Connect(ctx, &pb.ConnectRequest{Session: &pb.Session{User: "8"}})
	if err != nil || len(c0.Queued) != 0 {
		t.Fatalf("connect without drain_queue = %v, %v; want nothing handed over", c0, err)
	}
	c, err := srv.Sessions.Connect(ctx, &pb.ConnectRequest{DrainQueue: true, Session: &pb.Session{User: "8"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := datas(c.Queued); got != "2,3" {
		t.Fatalf("queued = %s, want the newest 2 oldest first", got)
	}
	c2, _ := srv.Sessions.Connect(ctx, &pb.ConnectRequest{DrainQueue: true, Session: &pb.Session{User: "8"}})
	if len(c2.Queued) != 0 {
		t.Fatalf("queue not emptied: %v", c2.Queued)
	}
	_, err = srv.Hub.Send(ctx, &pb.SendRequest{Event: &pb.Event{Data: "1"}})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("send without recipient: %v", err)
	}
}

func TestDirectedEventReachesUserStream(t *testing.T) {
	srv := apptest.Start(t, nil)
	ctx := context.Background()
	c, err := srv.Sessions.Connect(ctx, &pb.ConnectRequest{Session: &pb.Session{User: "9"}})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := subscribe(t, srv.Hub, &pb.SubscribeRequest{SessionId: c.Session.Id, Filters: []*pb.Filter{{Channels: []string{"msg"}}}})
	other, _ := subscribe(t, srv.Hub, &pb.SubscribeRequest{Filters: []*pb.Filter{{Channels: []string{"msg"}}}})
	if _, err := srv.Hub.Send(ctx, &pb.SendRequest{Event: &pb.Event{Channel: "msg", Data: `"for 9"`, To: &pb.Recipient{User: "9"}}}); err != nil {
		t.Fatal(err)
	}
	publish(t, srv.Hub, &pb.Event{Channel: "msg", Data: `"all"`})
	if got := next(t, st).GetEvent().GetData(); got != `"for 9"` {
		t.Fatalf("user stream got %s", got)
	}
	if got := next(t, other).GetEvent().GetData(); got != `"all"` {
		t.Fatalf("another stream got %s, want only the broadcast", got)
	}
}

func TestUserLimitedChannels(t *testing.T) {
	srv := apptest.Start(t, nil)
	u42 := pb.NewHubServiceClient(apptest.Dial(t, srv.GRPCAddr, bearer(t, srv, "42")))
	u43 := pb.NewHubServiceClient(apptest.Dial(t, srv.GRPCAddr, bearer(t, srv, "43")))
	st, _ := subscribe(t, u42, &pb.SubscribeRequest{Filters: []*pb.Filter{{Channels: []string{"news#42"}}}})
	wild, _ := subscribe(t, u43, &pb.SubscribeRequest{Filters: []*pb.Filter{{Channels: []string{"*"}}}})
	s, err := u43.Subscribe(context.Background(), &pb.SubscribeRequest{Filters: []*pb.Filter{{Channels: []string{"news#42"}}}})
	if err == nil {
		_, err = s.Recv()
	}
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("user 43 on news#42: %v, want PermissionDenied", err)
	}
	publish(t, srv.Hub, &pb.Event{Channel: "news#42", Data: `"private"`})
	publish(t, srv.Hub, &pb.Event{Channel: "news", Data: `"public"`})
	if got := next(t, st).GetEvent().GetData(); got != `"private"` {
		t.Fatalf("user 42 got %s", got)
	}
	if got := next(t, wild).GetEvent().GetData(); got != `"public"` {
		t.Fatalf("user 43 with a wildcard got %s, want only the public event", got)
	}
}

func TestSharedStreamIsNoSession(t *testing.T) {
	srv := apptest.Start(t, nil)
	ctx := context.Background()
	shared, _ := subscribe(t, srv.Hub, &pb.SubscribeRequest{Shared: true, Filters: []*pb.Filter{{Channels: []string{"room"}}}})
	p, err := srv.Hub.Presence(ctx, &pb.PresenceRequest{Channel: "room"})
	if err != nil || len(p.Sessions) != 0 {
		t.Fatalf("presence with only a shared stream = %v, %v; want none", p, err)
	}
	publish(t, srv.Hub, &pb.Event{Channel: "room", Data: "1"})
	if got := next(t, shared).GetEvent().GetData(); got != "1" {
		t.Fatalf("shared stream got %s", got)
	}
	user := pb.NewHubServiceClient(apptest.Dial(t, srv.GRPCAddr, bearer(t, srv, "5")))
	st, err := user.Subscribe(ctx, &pb.SubscribeRequest{Shared: true, Filters: []*pb.Filter{{Channels: []string{"room"}}}})
	if err == nil {
		_, err = st.Recv()
	}
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("shared stream with a user token: %v, want PermissionDenied", err)
	}
}
