package nkservice_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/coder/websocket"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/app/apptest"
)

// TestAckOrdering: session/cmd is acked at once and answered when the
// target answers; meanwhile the caller's other requests are answered in
// their own order, and the target's ack of the relayed request holds it.
func TestAckOrdering(t *testing.T) {
	s := start(t, nil)
	caller, target := dial(t, s), dial(t, s)
	caller.login(adminUser, adminPass, "caller")
	target.login("bob", s.Token(t, "bob"), "target")

	tid := caller.req("session", "cmd", map[string]any{"session_id": "target", "class": "app", "cmd": "slow"})
	caller.expect(fmt.Sprintf(`{"ack":%d}`, tid))
	target.expect(`{"class":"app","cmd":"slow","tid":1}`)
	target.raw(`{"ack":1}`)

	// The caller goes on while the relay waits.
	list := caller.req("user", "list", nil)
	caller.expect(fmt.Sprintf(`{"result":"ok","tid":%d,"data":{"admin":["caller"],"bob":["target"]}}`, list))
	subs := caller.req("event", "get_subscriptions", nil)
	caller.expect(fmt.Sprintf(`{"ack":%d}`, subs))
	caller.expect(fmt.Sprintf(`{"result":"ok","tid":%d,"data":[`+
		`{"class":"core","subclass":"session_event","type":"*","obj_id":"caller"},`+
		`{"class":"core","subclass":"user_event","type":"*","obj_id":"admin"}]}`, subs))

	target.raw(`{"result":"ok","tid":1,"data":{"done":true}}`)
	caller.expect(fmt.Sprintf(`{"result":"ok","tid":%d,"data":{"done":true}}`, tid))
	// A reply the target sends twice, or for a tid never sent, is dropped.
	target.raw(`{"result":"ok","tid":1}`)
	target.raw(`{"result":"ok","tid":99}`)
	target.raw(`{"ack":98}`)
	target.barrier()
	caller.barrier()
}

// TestUnsubscribeAndPresence: a connection is in the presence of the
// classes it subscribed to; HubService.Unsubscribe of its user for one
// class ends that class's deliveries, and for every class closes it.
func TestUnsubscribeAndPresence(t *testing.T) {
	s := start(t, nil)
	c := dial(t, s)
	c.login("carol", s.Token(t, "carol"), "c1")
	c.ok("event", "subscribe", map[string]any{"class": "news"})
	c.ok("event", "subscribe", map[string]any{"class": "sport", "type": "goal"})

	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	p, err := s.Hub.Presence(ctx, &pb.PresenceRequest{Channel: "news"})
	if err != nil || len(p.GetSessions()) != 1 || p.GetSessions()[0].GetId() != "c1" ||
		p.GetSessions()[0].GetUser() != "carol" || p.GetSessions()[0].GetFace() != "nkservice" {
		t.Fatalf("presence of news = %v, %v", p, err)
	}

	if _, err := s.Hub.Unsubscribe(ctx, &pb.UnsubscribeRequest{User: "carol", Channel: "news"}); err != nil {
		t.Fatal(err)
	}
	// The order reaches the socket through the core's control stream: wait
	// until its subscriptions no longer list news.
	for {
		tid := c.req("event", "get_subscriptions", nil)
		c.expect(fmt.Sprintf(`{"ack":%d}`, tid))
		if got := c.next(); !strings.Contains(got, `"news"`) {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("news still subscribed")
		default:
		}
	}
	for _, ev := range []*pb.Event{{Channel: "news", Name: "x", Data: "null"}, {Channel: "sport", Name: "goal", Data: "null"}} {
		if _, err := s.Hub.Publish(ctx, &pb.PublishRequest{Event: ev}); err != nil {
			t.Fatal(err)
		}
	}
	if got := c.event(); got != `{"class":"sport","type":"goal"}` {
		t.Fatalf("after unsubscribe from news: %s", got)
	}
	c.barrier()

	if _, err := s.Hub.Unsubscribe(ctx, &pb.UnsubscribeRequest{User: "carol"}); err != nil {
		t.Fatal(err)
	}
	if code := c.closed(); code != websocket.StatusPolicyViolation {
		t.Fatalf("close code %v", code)
	}
}

// TestRESTBothWays: an event/send reaches a REST subscription stream (POST
// /v1/subscribe), and a REST publish reaches an NkSERVICE subscription.
func TestRESTBothWays(t *testing.T) {
	s := start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	post := func(ctx context.Context, path, body string) *http.Response {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.HTTPURL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "apikey "+apptest.TestSecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("%s: status %d: %s", path, resp.StatusCode, b)
		}
		return resp
	}
	stream := post(ctx, "/v1/subscribe", `{"filters":[{"channels":["chat"]}]}`)
	defer stream.Body.Close()
	lines := bufio.NewScanner(stream.Body)
	lines.Buffer(make([]byte, 64<<10), 1<<20)
	next := func() map[string]json.RawMessage {
		t.Helper()
		if !lines.Scan() {
			t.Fatalf("REST stream ended: %v", lines.Err())
		}
		var m struct {
			Result map[string]json.RawMessage `json:"result"`
		}
		if err := json.Unmarshal(lines.Bytes(), &m); err != nil {
			t.Fatalf("REST line %s: %v", lines.Bytes(), err)
		}
		return m.Result
	}
	if r := next(); r["subscribed"] == nil {
		t.Fatalf("first line %v", r)
	}

	c := dial(t, s)
	c.login("dave", s.Token(t, "dave"), "d1")
	c.ok("event", "subscribe", map[string]any{"class": "chat", "subclass": "room"})
	c.ok("event", "send", map[string]any{"class": "chat", "subclass": "room", "type": "msg", "body": map[string]any{"text": "hi"}})
	var ev struct {
		Channel, Subject, Name, Data string
		Publisher                    struct{ User, Client string }
	}
	if err := json.Unmarshal(next()["event"], &ev); err != nil || ev.Channel != "chat" || ev.Subject != "room" || ev.Name != "msg" ||
		ev.Data != `{"text":"hi"}` || ev.Publisher.User != "dave" || ev.Publisher.Client != "d1" {
		t.Fatalf("REST got %+v, %v", ev, err)
	}
	if got := c.event(); got != `{"class":"chat","subclass":"room","type":"msg","body":{"text":"hi"}}` {
		t.Fatalf("own event: %s", got)
	}

	post(ctx, "/v1/publish", `{"channel":"chat","subject":"room","name":"rest","key":"k","data":"{\"from\":\"rest\"}"}`).Body.Close()
	if got := c.event(); got != `{"class":"chat","subclass":"room","type":"rest","obj_id":"k","body":{"from":"rest"}}` {
		t.Fatalf("NkSERVICE got %s", got)
	}
}
