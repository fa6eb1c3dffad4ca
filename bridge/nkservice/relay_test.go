package nkservice_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/app"
	"github.com/switchboard-hub/switchboard/internal/app/apptest"
	"github.com/switchboard-hub/switchboard/internal/redistest"
)

// relay checks session/cmd from caller to the session "target" held by
// target: an answer, the target's error, and no answer in time.
func relay(t *testing.T, caller, target *client) {
	t.Helper()
	tid := caller.req("session", "cmd", map[string]any{"session_id": "target", "class": "my_class", "cmd": "my_cmd", "data": map[string]any{"key": "val"}})
	caller.expect(fmt.Sprintf(`{"ack":%d}`, tid))
	target.expect(`{"class":"my_class","cmd":"my_cmd","tid":1,"data":{"key":"val"}}`)
	target.raw(`{"result":"ok","tid":1,"data":{"received":true}}`)
	caller.expect(fmt.Sprintf(`{"result":"ok","tid":%d,"data":{"received":true}}`, tid))

	// The target's own error comes back as it was.
	tid = caller.req("session", "cmd", map[string]any{"session_id": "target", "class": "my_class", "subclass": "sub", "cmd": "fail"})
	caller.expect(fmt.Sprintf(`{"ack":%d}`, tid))
	target.expect(`{"class":"my_class","subclass":"sub","cmd":"fail","tid":2}`)
	target.raw(`{"result":"error","tid":2,"data":{"code":1234,"error":"Not today"}}`)
	caller.expect(fmt.Sprintf(`{"result":"error","tid":%d,"data":{"code":1234,"error":"Not today"}}`, tid))

	// The target acks (so it is not cut off) but never answers: timeout.
	tid = caller.req("session", "cmd", map[string]any{"session_id": "target", "class": "my_class", "cmd": "slow"})
	caller.expect(fmt.Sprintf(`{"ack":%d}`, tid))
	target.expect(`{"class":"my_class","cmd":"slow","tid":3}`)
	target.raw(`{"ack":3}`)
	caller.expect(fmt.Sprintf(`{"result":"error","tid":%d,"data":{"code":100005,"error":"Timeout"}}`, tid))

	// Unknown session.
	tid = caller.req("session", "cmd", map[string]any{"session_id": "nobody", "class": "c", "cmd": "x"})
	caller.expect(fmt.Sprintf(`{"ack":%d}`, tid))
	caller.expect(fmt.Sprintf(`{"result":"error","tid":%d,"data":{"code":100062,"error":"Session not found"}}`, tid))
}

func shortCommands(c *app.Config) {
	c.NkService.CommandTimeout = app.Duration(500 * time.Millisecond)
}

func TestSessionCmdOneNode(t *testing.T) {
	s := start(t, shortCommands)
	caller, target := dial(t, s), dial(t, s)
	caller.login(adminUser, adminPass, "caller")
	target.login("bob", s.Token(t, "bob"), "target")
	relay(t, caller, target)

	// The relay is a contract RPC: the same from gRPC.
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	dir := pb.NewDirectoryServiceClient(s.Conn)
	done := make(chan *pb.SendCommandResponse, 1)
	errs := make(chan error, 1)
	go func() {
		r, err := dir.SendCommand(ctx, &pb.SendCommandRequest{SessionId: "target", Method: "app/core/ping", Data: `{"n":1}`, Timeout: durationpb.New(5 * time.Second)})
		done <- r
		errs <- err
	}()
	target.expect(`{"class":"app","cmd":"ping","tid":4,"data":{"n":1}}`)
	target.raw(`{"result":"ok","tid":4,"data":[1,2]}`)
	if r, err := <-done, <-errs; err != nil || r.Data != `[1,2]` {
		t.Fatalf("gRPC SendCommand = %v, %v", r, err)
	}
	go func() {
		_, err := dir.SendCommand(ctx, &pb.SendCommandRequest{SessionId: "target", Method: "app/core/ping"})
		errs <- err
	}()
	target.expect(`{"class":"app","cmd":"ping","tid":5}`)
	target.raw(`{"result":"error","tid":5,"data":{"code":7,"error":"no"}}`)
	err := <-errs
	st := status.Convert(err)
	if st.Code() != codes.FailedPrecondition || len(st.Details()) != 1 {
		t.Fatalf("target error over gRPC: %v", err)
	}
	if ce, ok := st.Details()[0].(*pb.CommandError); !ok || ce.Code != 7 || ce.Message != "no" {
		t.Fatalf("detail %v", st.Details())
	}
	// A target that goes away while a command waits answers "Session stop".
	tid := caller.req("session", "cmd", map[string]any{"session_id": "target", "class": "app", "cmd": "bye"})
	caller.expect(fmt.Sprintf(`{"ack":%d}`, tid))
	target.expect(`{"class":"app","cmd":"bye","tid":6}`)
	target.ws.Close(websocket.StatusNormalClosure, "")
	caller.expect(fmt.Sprintf(`{"result":"error","tid":%d,"data":{"code":100061,"error":"Session stop"}}`, tid))
}

func TestSessionCmdAcrossNodes(t *testing.T) {
	addr := redistest.Addr(t)
	prefix := redistest.Prefix(t, addr)
	redis := func(c *app.Config) {
		c.Engine = app.Engine{Type: "redis", Address: addr, Prefix: prefix}
		shortCommands(c)
	}
	a, b := start(t, redis), start(t, redis)
	caller, target := dial(t, a), dial(t, b)
	caller.login(adminUser, adminPass, "caller")
	target.login("bob", b.Token(t, "bob"), "target")
	relay(t, caller, target)

	// Lists, events and stop cross nodes too.
	tid := caller.req("user", "list", nil)
	caller.expect(fmt.Sprintf(`{"result":"ok","tid":%d,"data":{"admin":["caller"],"bob":["target"]}}`, tid))
	caller.ok("user", "send_event", map[string]any{"user": "bob", "type": "t"})
	target.raw(`{"result":"ok","tid":3}`) // the timed-out command, answered late: dropped
	if got := target.event(); got != `{"class":"core","subclass":"user_event","type":"t","obj_id":"bob"}` {
		t.Fatalf("across: %s", got)
	}
	tid = caller.req("session", "stop", map[string]any{"session_id": "target"})
	caller.expect(fmt.Sprintf(`{"result":"ok","tid":%d,"data":{"user":"bob"}}`, tid))
	if code := target.closed(); code != websocket.StatusPolicyViolation {
		t.Fatalf("close code %v", code)
	}
}

// TestDuplicateSessionAcrossNodes: a session id held by a live session on
// another node is refused at login, as on the same node, and is free again
// once that session ended.
func TestDuplicateSessionAcrossNodes(t *testing.T) {
	addr := redistest.Addr(t)
	prefix := redistest.Prefix(t, addr)
	redis := func(c *app.Config) { c.Engine = app.Engine{Type: "redis", Address: addr, Prefix: prefix} }
	a, b := start(t, redis), start(t, redis)
	first := dial(t, a)
	first.login(adminUser, adminPass, "shared-id")

	second := dial(t, b)
	tid := second.req("user", "login", map[string]any{"user": adminUser, "password": adminPass, "session_id": "shared-id"})
	second.expect(fmt.Sprintf(`{"ack":%d}`, tid))
	second.expect(fmt.Sprintf(`{"result":"error","tid":%d,"data":{"code":100034,"error":"Duplicated session id"}}`, tid))
	if code := second.closed(); code != websocket.StatusPolicyViolation {
		t.Fatalf("close code %v", code)
	}
	// The refused login took nothing from the first session: it is still
	// listed, on its node, and still gets its events.
	tid = first.req("user", "get", map[string]any{"user": adminUser})
	if got := first.next(); !strings.HasPrefix(got, fmt.Sprintf(`{"result":"ok","tid":%d,"data":{"shared-id":{`, tid)) || strings.Count(got, `"type"`) != 1 {
		t.Fatalf("user/get after the refused login: %s", got)
	}
	first.ok("session", "send_event", map[string]any{"session_id": "shared-id", "type": "still"})
	if got := first.event(); got != `{"class":"core","subclass":"session_event","type":"still","obj_id":"shared-id"}` {
		t.Fatalf("event after the refused login: %s", got)
	}

	// Once the first session has ended, the id may be used on the other node.
	gone := sessionGone(t, b, "shared-id")
	first.ws.Close(websocket.StatusNormalClosure, "")
	gone()
	third := dial(t, b)
	third.login(adminUser, adminPass, "shared-id")
}

// sessionGone watches the core's session lifecycle events (through s); the
// function it returns waits for the DISCONNECT of the session id, which
// the core announces once the session has left the directory.
func sessionGone(t *testing.T, s *apptest.Server, id string) func() {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	st, err := s.Hub.Subscribe(ctx, &pb.SubscribeRequest{Filters: []*pb.Filter{{Channels: []string{"sys:sessions"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if m, err := st.Recv(); err != nil || m.GetSubscribed() == nil {
		t.Fatalf("lifecycle subscription: %v, %v", m, err)
	}
	return func() {
		t.Helper()
		for {
			m, err := st.Recv()
			if err != nil {
				t.Fatalf("waiting for the end of session %s: %v", id, err)
			}
			if ev := m.GetEvent(); ev.GetKind() == pb.EventKind_EVENT_KIND_DISCONNECT && ev.GetPublisher().GetClient() == id {
				return
			}
		}
	}
}

func TestSessionStop(t *testing.T) {
	s := start(t, nil)
	admin, u := dial(t, s), dial(t, s)
	admin.login(adminUser, adminPass, "adm")
	u.login("bob", s.Token(t, "bob"), "bob1")
	gone := sessionGone(t, s, "bob1")
	tid := admin.req("session", "stop", map[string]any{"session_id": "bob1"})
	admin.expect(fmt.Sprintf(`{"result":"ok","tid":%d,"data":{"user":"bob"}}`, tid))
	u.closed()
	// The session is gone from the directory once its socket closed.
	gone()
	dir := pb.NewDirectoryServiceClient(s.Conn)
	if r, err := dir.ListSessions(context.Background(), &pb.ListSessionsRequest{User: "bob"}); err != nil || len(r.Sessions) != 0 {
		t.Fatalf("sessions of bob after stop: %v, %v", r, err)
	}
}

// TestDisconnectReachesSession: HubService.Disconnect of the user closes
// its NkSERVICE sockets, as on every face.
func TestDisconnectReachesSession(t *testing.T) {
	s := start(t, nil)
	u := dial(t, s)
	u.login("carol", s.Token(t, "carol"), "c1")
	if _, err := s.Hub.Disconnect(context.Background(), &pb.DisconnectRequest{User: "carol", Reason: "bye"}); err != nil {
		t.Fatal(err)
	}
	if code := u.closed(); code != websocket.StatusPolicyViolation {
		t.Fatalf("close code %v", code)
	}
}

func TestSessionLogGELF(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	s := start(t, func(c *app.Config) { c.GELFAddr = pc.LocalAddr().String() })
	c := dial(t, s)
	c.login("dave", s.Token(t, "dave"), "d1")
	c.ok("session", "log", map[string]any{"source": "my host", "message": "my message", "full_message": "long", "level": 3,
		"meta": map[string]any{"key1": "val1", "key2": 2}})
	buf := make([]byte, 65536)
	_ = pc.SetReadDeadline(time.Now().Add(wait))
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatalf("no GELF datagram: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(buf[:n], &m); err != nil {
		t.Fatalf("datagram %q: %v", buf[:n], err)
	}
	if ts, ok := m["timestamp"].(float64); !ok || ts < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Fatalf("timestamp %v", m["timestamp"])
	}
	delete(m, "timestamp")
	got, _ := json.Marshal(m)
	want := `{"_key1":"val1","_key2":2,"_session_id":"d1","_user":"dave","full_message":"long","host":"my host","level":3,"short_message":"my message","version":"1.1"}`
	if string(got) != want {
		t.Fatalf("GELF\n got  %s\n want %s", got, want)
	}
}

// TestDirectoryREST: the directory is on the REST gateway too.
func TestDirectoryREST(t *testing.T) {
	s := start(t, nil)
	c := dial(t, s)
	c.login("erin", s.Token(t, "erin"), "e1")
	req, err := http.NewRequest(http.MethodPost, s.HTTPURL+"/v1/directory/list_users", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "apikey "+apptest.TestSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Users []struct {
			User     string `json:"user"`
			Sessions []struct {
				ID   string `json:"id"`
				Face string `json:"face"`
			} `json:"sessions"`
		} `json:"users"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, %v", resp.StatusCode, err)
	}
	if len(out.Users) != 1 || out.Users[0].User != "erin" || len(out.Users[0].Sessions) != 1 ||
		out.Users[0].Sessions[0].ID != "e1" || out.Users[0].Sessions[0].Face != "nkservice" {
		t.Fatalf("list_users = %+v", out)
	}
	// Without the api key: refused.
	resp2, err := http.Post(s.HTTPURL+"/v1/directory/list_users", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusUnauthorized && resp2.StatusCode != http.StatusForbidden {
		t.Fatalf("without key: %d", resp2.StatusCode)
	}
}

// TestUnansweredCommandClosesTarget: a relayed command is a server request
// like any other: a target that neither answers nor acks it in time is
// closed, and the caller gets "Session stop" at once, not a timeout.
func TestUnansweredCommandClosesTarget(t *testing.T) {
	s := start(t, func(c *app.Config) { c.NkService.ReplyTimeout = app.Duration(300 * time.Millisecond) })
	caller, target := dial(t, s), dial(t, s)
	caller.login(adminUser, adminPass, "caller")
	target.login("bob", s.Token(t, "bob"), "target")
	tid := caller.req("session", "cmd", map[string]any{"session_id": "target", "class": "app", "cmd": "ignored"})
	caller.expect(fmt.Sprintf(`{"ack":%d}`, tid))
	target.expect(`{"class":"app","cmd":"ignored","tid":1}`)
	if code := target.closed(); code != websocket.StatusPolicyViolation {
		t.Fatalf("close code %v", code)
	}
	caller.expect(fmt.Sprintf(`{"result":"error","tid":%d,"data":{"code":100061,"error":"Session stop"}}`, tid))
}
