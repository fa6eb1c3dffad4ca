package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"google.golang.org/grpc/codes"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/app"
	"github.com/switchboard-hub/switchboard/internal/app/apptest"
	"github.com/switchboard-hub/switchboard/internal/redistest"
)

// twoNodes starts two servers sharing one Redis under a fresh prefix.
func twoNodes(t *testing.T) (a, b *apptest.Server) {
	addr := redistest.Addr(t)
	prefix := redistest.Prefix(t, addr)
	redis := func(c *app.Config) { c.Engine = app.Engine{Type: "redis", Address: addr, Prefix: prefix} }
	return apptest.Start(t, redis), apptest.Start(t, redis)
}

func TestClusterOnRedis(t *testing.T) {
	a, b := twoNodes(t)
	ctx := context.Background()
	onB, _ := subscribe(t, pb.NewHubServiceClient(apptest.Dial(t, b.GRPCAddr, bearer(t, b, "42"))), &pb.SubscribeRequest{Filters: []*pb.Filter{{Channels: []string{"news"}}}})
	wildB, _ := subscribe(t, b.Hub, &pb.SubscribeRequest{Filters: []*pb.Filter{{Names: []string{"n"}}}})

	// Publish on A, deliver on B; history and offsets are shared.
	resp := publish(t, a.Hub, &pb.Event{Channel: "news", Name: "n", Data: `"across"`})
	if ev := next(t, onB).GetEvent(); ev.GetData() != `"across"` || ev.Offset != resp.Position.Offset {
		t.Fatalf("node B got %v", ev)
	}
	if ev := next(t, wildB).GetEvent(); ev.GetData() != `"across"` {
		t.Fatalf("wildcard on B got %v", ev)
	}
	h, err := b.Hub.History(ctx, &pb.HistoryRequest{Channel: "news"})
	if err != nil || datas(h.Events) != `"across"` {
		t.Fatalf("history read on B = %v, %v", h, err)
	}

	// Presence and stats see both nodes.
	subscribe(t, a.Hub, &pb.SubscribeRequest{Filters: []*pb.Filter{{Channels: []string{"news"}}}})
	ps, err := a.Hub.PresenceStats(ctx, &pb.PresenceStatsRequest{Channel: "news"})
	if err != nil || ps.NumSessions != 2 || ps.NumUsers != 1 {
		t.Fatalf("presence stats from A = %v, %v; want 2 sessions, 1 user", ps, err)
	}
	deadline := time.Now().Add(wait)
	for {
		st, err := a.Hub.Stats(ctx, &pb.StatsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Nodes) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats lists %d nodes, want 2", len(st.Nodes))
		}
		time.Sleep(100 * time.Millisecond)
	}

	// A disconnect sent to A ends user 42's stream on B.
	if _, err := a.Hub.Disconnect(ctx, &pb.DisconnectRequest{User: "42", Reason: "cluster"}); err != nil {
		t.Fatal(err)
	}
	if s := streamErr(t, onB); s.Code() != codes.Aborted {
		t.Fatalf("stream on B after disconnect on A: %v", s)
	}

	// Directed events cross nodes too.
	c, err := b.Sessions.Connect(ctx, &pb.ConnectRequest{Session: &pb.Session{User: "9"}})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := subscribe(t, b.Hub, &pb.SubscribeRequest{SessionId: c.Session.Id, Filters: []*pb.Filter{{Channels: []string{"msg"}}}})
	r, err := a.Hub.Send(ctx, &pb.SendRequest{Event: &pb.Event{Channel: "msg", Data: `"dm"`, To: &pb.Recipient{User: "9"}}})
	if err != nil || !r.Online {
		t.Fatalf("send from A = %v, %v; want online (user is on B)", r, err)
	}
	if got := next(t, st).GetEvent().GetData(); got != `"dm"` {
		t.Fatalf("directed event on B = %s", got)
	}
}

// TestClusterSharesUserRecords: a comet-server backend sets a user's auth
// hash through one node; the user's page logs in through another.
func TestClusterSharesUserRecords(t *testing.T) {
	a, b := twoNodes(t)
	req, _ := http.NewRequest(http.MethodPost, a.HTTPURL+"/v1/users/set_auth_hash", strings.NewReader(`{"tenant":"","user":"5","hash":"k5"}`))
	req.Header.Set("Authorization", "apikey "+apptest.TestSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("set_auth_hash on A: %v %v", resp, err)
	}
	resp.Body.Close()

	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, b.WSURL+"/ws/sesion=k5&myid=5&devid=0&v=4.08&uuid=u5&api=js", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if m := readJSON(t, ws); string(m["event"]) != `"serverInfo"` || string(m["authorized"]) != "true" {
		t.Fatalf("login on B with the hash set on A: %v", m)
	}

	users := pb.NewUserServiceClient(b.Conn)
	if _, err := users.SetUserData(ctx, &pb.SetUserDataRequest{User: "5", Data: "from B"}); err != nil {
		t.Fatal(err)
	}
	got, err := pb.NewUserServiceClient(a.Conn).GetUserData(ctx, &pb.GetUserDataRequest{User: "5"})
	if err != nil || got.GetData() != "from B" {
		t.Fatalf("user data on A: %v %v", got, err)
	}
}
