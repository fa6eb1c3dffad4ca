package app_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/app/apptest"
)

// The lifecycle channels of the contract (event.proto, EventKind).
var sysChannels = []string{"sys:sessions", "sys:users", "sys:subscriptions"}

// watchLifecycle subscribes, with an api key, to tenant's lifecycle
// channels and to its "barrier" channel. The stream's own session joins
// "barrier" (not the sys channels), and sees that first.
func watchLifecycle(t *testing.T, hub pb.HubServiceClient, tenant string) pb.HubService_SubscribeClient {
	t.Helper()
	st, sub := subscribe(t, hub, &pb.SubscribeRequest{Filters: []*pb.Filter{
		{Tenant: tenant, Channels: sysChannels},
		{Tenant: tenant, Channels: []string{"barrier"}},
	}})
	ev := next(t, st).GetEvent()
	if got := lifecycleLine(ev); got != "sys:subscriptions JOIN key=barrier face=grpc user=" || ev.GetPublisher().GetClient() != sub.SessionId {
		t.Fatalf("first event of the watcher: %s by %s, want its own join of barrier", got, ev.GetPublisher().GetClient())
	}
	return st
}

// lifecycleLine is one lifecycle event in the form the tests compare.
func lifecycleLine(ev *pb.Event) string {
	return fmt.Sprintf("%s %s key=%s face=%s user=%s", ev.GetChannel(), strings.TrimPrefix(ev.GetKind().String(), "EVENT_KIND_"),
		ev.GetKey(), ev.GetSubject(), ev.GetPublisher().GetUser())
}

// expectLifecycle reads the stream's next events, which must be want, in
// order, and nothing else: a barrier event published afterwards through
// pub must come next. Lifecycle events are published before the call that
// caused them returns, and one publisher's events reach a stream in order,
// so anything announced by mistake would arrive before the barrier.
func expectLifecycle(t *testing.T, st pb.HubService_SubscribeClient, pub pb.HubServiceClient, tenant string, want ...string) {
	t.Helper()
	for _, w := range want {
		ev := next(t, st).GetEvent()
		if got := lifecycleLine(ev); got != w {
			t.Fatalf("lifecycle event %q, want %q", got, w)
		}
	}
	id := publish(t, pub, &pb.Event{Tenant: tenant, Channel: "barrier", Data: "null"}).Id
	if ev := next(t, st).GetEvent(); ev.GetId() != id {
		t.Fatalf("got %q before the barrier, want nothing more than %q", lifecycleLine(ev), want)
	}
}

func connect(t *testing.T, sessions pb.SessionServiceClient, tenant, user string) *pb.Session {
	t.Helper()
	r, err := sessions.Connect(context.Background(), &pb.ConnectRequest{Session: &pb.Session{Tenant: tenant, User: user, Face: "test", Client: "c-" + user}})
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	return r.Session
}

func closeSession(t *testing.T, sessions pb.SessionServiceClient, s *pb.Session) {
	t.Helper()
	if _, err := sessions.Close(context.Background(), &pb.CloseRequest{SessionId: s.Id}); err != nil {
		t.Fatalf("close: %v", err)
	}
}

// testUserOnlineOnce: a user with a session on a and one on b is online
// once and offline only when both closed, whichever node watches.
func testUserOnlineOnce(t *testing.T, a, b *apptest.Server) {
	const tenant = "life"
	watch := watchLifecycle(t, a.Hub, tenant)
	onA := connect(t, a.Sessions, tenant, "u")
	expectLifecycle(t, watch, b.Hub, tenant,
		"sys:sessions CONNECT key= face=test user=u",
		"sys:users ONLINE key=u face= user=u")
	onB := connect(t, b.Sessions, tenant, "u")
	expectLifecycle(t, watch, a.Hub, tenant, "sys:sessions CONNECT key= face=test user=u")

	if _, err := b.Sessions.Join(context.Background(), &pb.JoinRequest{SessionId: onB.Id, Channels: []string{"room"}}); err != nil {
		t.Fatal(err)
	}
	expectLifecycle(t, watch, a.Hub, tenant, "sys:subscriptions JOIN key=room face=test user=u")

	anon := connect(t, b.Sessions, tenant, "")
	expectLifecycle(t, watch, a.Hub, tenant, "sys:sessions CONNECT key= face=test user=")
	closeSession(t, b.Sessions, anon)
	expectLifecycle(t, watch, a.Hub, tenant, "sys:sessions DISCONNECT key= face=test user=")

	closeSession(t, a.Sessions, onA)
	expectLifecycle(t, watch, b.Hub, tenant, "sys:sessions DISCONNECT key= face=test user=u")
	closeSession(t, b.Sessions, onB)
	expectLifecycle(t, watch, a.Hub, tenant,
		"sys:subscriptions LEAVE key=room face=test user=u",
		"sys:sessions DISCONNECT key= face=test user=u",
		"sys:users OFFLINE key=u face= user=u")

	// Back again: online again.
	again := connect(t, b.Sessions, tenant, "u")
	expectLifecycle(t, watch, a.Hub, tenant,
		"sys:sessions CONNECT key= face=test user=u",
		"sys:users ONLINE key=u face= user=u")
	closeSession(t, b.Sessions, again)
	expectLifecycle(t, watch, a.Hub, tenant,
		"sys:sessions DISCONNECT key= face=test user=u",
		"sys:users OFFLINE key=u face= user=u")
}

func TestUserOnlineOnce(t *testing.T) {
	srv := apptest.Start(t, nil)
	testUserOnlineOnce(t, srv, srv)
}

func TestUserOnlineOnceAcrossNodes(t *testing.T) {
	a, b := twoNodes(t)
	testUserOnlineOnce(t, a, b)
}

// TestLifecycleEventData: the data of a lifecycle event is the session, its
// publisher names the session, and its tenant is the session's.
func TestLifecycleEventData(t *testing.T) {
	srv := apptest.Start(t, nil)
	watch := watchLifecycle(t, srv.Hub, "d")
	s := connect(t, srv.Sessions, "d", "7")
	ev := next(t, watch).GetEvent()
	if ev.GetTenant() != "d" || ev.GetPublisher().GetClient() != s.Id || ev.GetOffset() != 0 {
		t.Fatalf("CONNECT event %v, want tenant d, publisher.client %s, no history", ev, s.Id)
	}
	for _, part := range []string{`"id":"` + s.Id + `"`, `"user":"7"`, `"client":"c-7"`, `"face":"test"`, `"node":"` + s.Node + `"`} {
		if !strings.Contains(ev.GetData(), part) {
			t.Fatalf("CONNECT data %s, want it to hold %s", ev.GetData(), part)
		}
	}
}

// TestSysChannelsAreReserved: nobody publishes into sys channels or joins
// them, only api-key callers subscribe, and no wildcard filter sees them.
func TestSysChannelsAreReserved(t *testing.T) {
	srv := apptest.Start(t, nil)
	ctx := context.Background()
	s := connect(t, srv.Sessions, "", "1")
	calls := map[string]func() error{
		"publish": func() error {
			_, err := srv.Hub.Publish(ctx, &pb.PublishRequest{Event: &pb.Event{Channel: "sys:users", Data: "null"}})
			return err
		},
		"publish private": func() error {
			_, err := srv.Hub.Publish(ctx, &pb.PublishRequest{Event: &pb.Event{Channel: "$sys:users", Data: "null"}})
			return err
		},
		"broadcast": func() error {
			_, err := srv.Hub.Broadcast(ctx, &pb.BroadcastRequest{Channels: []string{"news", "sys:sessions"}, Event: &pb.Event{Data: "null"}})
			return err
		},
		"send": func() error {
			_, err := srv.Hub.Send(ctx, &pb.SendRequest{Event: &pb.Event{Channel: "sys:users", Data: "null", To: &pb.Recipient{User: "1"}}})
			return err
		},
	}
	for name, call := range calls {
		if err := call(); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "reserved") {
			t.Errorf("%s into a sys channel: %v, want INVALID_ARGUMENT naming the reserved namespace", name, err)
		}
	}
	// Joining a sys channel does nothing (faces pass their clients' names on).
	if _, err := srv.Sessions.Join(ctx, &pb.JoinRequest{SessionId: s.Id, Channels: []string{"room", "sys:subscriptions"}}); err != nil {
		t.Fatalf("join with a sys channel: %v", err)
	}
	if _, err := srv.Hub.Presence(ctx, &pb.PresenceRequest{Channel: "sys:subscriptions"}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("presence of a sys channel: %v, want FAILED_PRECONDITION", err)
	}
	if p, err := srv.Hub.Presence(ctx, &pb.PresenceRequest{Channel: "room"}); err != nil || len(p.Sessions) != 1 {
		t.Fatalf("presence of the channel joined with it: %v, %v", p, err)
	}

	user := pb.NewHubServiceClient(apptest.Dial(t, srv.GRPCAddr, bearer(t, srv, "1")))
	st, err := user.Subscribe(ctx, &pb.SubscribeRequest{Filters: []*pb.Filter{{Channels: []string{"news", "sys:users"}}}})
	if err == nil {
		_, err = st.Recv()
	}
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("user subscribing to sys:users: %v, want PERMISSION_DENIED", err)
	}

	// Wildcards, with and without an api key, see everything but sys.
	wildAll, _ := subscribe(t, srv.Hub, &pb.SubscribeRequest{Filters: []*pb.Filter{{Tenant: "*"}}})
	wildUser, _ := subscribe(t, user, &pb.SubscribeRequest{Filters: []*pb.Filter{{Channels: []string{"*"}}}})
	closeSession(t, srv.Sessions, connect(t, srv.Sessions, "", "2"))
	id := publish(t, srv.Hub, &pb.Event{Channel: "after", Data: "null"}).Id
	for name, st := range map[string]pb.HubService_SubscribeClient{"api key": wildAll, "user": wildUser} {
		if ev := next(t, st).GetEvent(); ev.GetId() != id {
			t.Fatalf("wildcard stream (%s) got %s %s, want only the event after", name, ev.GetChannel(), ev.GetKind())
		}
	}
}
