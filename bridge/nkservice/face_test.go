package nkservice_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/app"
)

func TestLogin(t *testing.T) {
	s := start(t, nil)
	c := dial(t, s)

	// Before login every command is refused.
	c.raw(`{"class":"core","subclass":"user","cmd":"list","tid":"a"}`)
	c.expect(`{"result":"error","tid":"a","data":{"code":100031,"error":"Not authenticated"}}`)

	// A wrong password: ack first, then unauthorized after the back-off;
	// the second failure waits twice as long.
	for i := range 2 {
		began := time.Now()
		tid := c.req("user", "login", map[string]any{"user": adminUser, "password": "wrong"})
		c.expect(fmt.Sprintf(`{"ack":%d}`, tid))
		c.expect(fmt.Sprintf(`{"result":"error","tid":%d,"data":{"code":100030,"error":"Unauthorized"}}`, tid))
		if min := (100 * time.Millisecond) << i; time.Since(began) < min {
			t.Fatalf("failure %d answered after %s, want at least %s", i+1, time.Since(began), min)
		}
	}

	c.login(adminUser, adminPass, "s-admin")
	tid := c.req("user", "login", map[string]any{"user": adminUser, "password": adminPass})
	c.expect(fmt.Sprintf(`{"result":"error","tid":%d,"data":{"code":100032,"error":"Already authenticated"}}`, tid))

	// The same session id on another connection: an error, then the close.
	d := dial(t, s)
	tid = d.req("user", "login", map[string]any{"user": adminUser, "password": adminPass, "session_id": "s-admin"})
	d.expect(fmt.Sprintf(`{"ack":%d}`, tid))
	d.expect(fmt.Sprintf(`{"result":"error","tid":%d,"data":{"code":100034,"error":"Duplicated session id"}}`, tid))
	if code := d.closed(); code != websocket.StatusPolicyViolation {
		t.Fatalf("close code %v", code)
	}

	// An invalid session id stops the connection too.
	e := dial(t, s)
	tid = e.req("user", "login", map[string]any{"user": adminUser, "password": adminPass, "session_id": "bad id"})
	e.expect(fmt.Sprintf(`{"ack":%d}`, tid))
	e.expect(fmt.Sprintf(`{"result":"error","tid":%d,"data":{"code":100035,"error":"Invalid session id"}}`, tid))
	e.closed()

	// A client token logs its user in (the same rules as every face); a
	// generated session id is a UUID.
	u := dial(t, s)
	tid = u.req("user", "login", map[string]any{"user": "alice", "password": s.Token(t, "alice")})
	u.expect(fmt.Sprintf(`{"ack":%d}`, tid))
	if got := u.next(); !strings.HasPrefix(got, fmt.Sprintf(`{"result":"ok","tid":%d,"data":{"session_id":"`, tid)) || len(got) != len(fmt.Sprintf(`{"result":"ok","tid":%d,"data":{"session_id":"01234567-0123-0123-0123-0123456789ab"}}`, tid)) {
		t.Fatalf("token login: %s", got)
	}
	// A token of another user does not log "alice" in.
	v := dial(t, s)
	tid = v.req("user", "login", map[string]any{"user": "alice", "pass": s.Token(t, "bob")})
	v.expect(fmt.Sprintf(`{"ack":%d}`, tid))
	v.expect(fmt.Sprintf(`{"result":"error","tid":%d,"data":{"code":100030,"error":"Unauthorized"}}`, tid))
}

// TestCommandShapes holds the reply and error frame of each command.
func TestCommandShapes(t *testing.T) {
	s := start(t, nil)
	c := dial(t, s)
	c.login(adminUser, adminPass, "s1")
	u := dial(t, s)
	u.login("alice", s.Token(t, "alice"), "s2")

	cases := []struct{ frame, want string }{
		{`{"class":"core","subclass":"user","cmd":"list","tid":1}`, `{"result":"ok","tid":1,"data":{"admin":["s1"],"alice":["s2"]}}`},
		{`{"class":"core","subclass":"user","cmd":"get","data":{"user":"alice"},"tid":2}`, `{"result":"ok","tid":2,"data":{"s2":{"type":"api_server","face":"nkservice","node":"NODE"}}}`},
		{`{"class":"core","subclass":"user","cmd":"get","data":{"user":"nobody"},"tid":3}`, `{"result":"error","tid":3,"data":{"code":100033,"error":"User not found"}}`},
		{`{"class":"core","subclass":"user","cmd":"get","tid":4}`, `{"result":"error","tid":4,"data":{"code":100045,"error":"Missing field: user"}}`},
		{`{"class":"core","subclass":"user","cmd":"send_event","data":{"user":"nobody","type":"t"},"tid":5}`, `{"result":"ok","tid":5}`},
		{`{"class":"core","subclass":"session","cmd":"send_event","data":{"type":"t"},"tid":6}`, `{"result":"error","tid":6,"data":{"code":100045,"error":"Missing field: session_id"}}`},
		{`{"class":"core","subclass":"session","cmd":"stop","data":{"session_id":"nope"},"tid":7}`, `{"result":"error","tid":7,"data":{"code":100062,"error":"Session not found"}}`},
		{`{"class":"core","subclass":"session","cmd":"log","data":{"message":"m"},"tid":8}`, `{"result":"error","tid":8,"data":{"code":100045,"error":"Missing field: source"}}`},
		{`{"class":"core","subclass":"session","cmd":"log","data":{"source":"s","message":"m","level":9},"tid":9}`, `{"result":"error","tid":9,"data":{"code":100044,"error":"Syntax error: level"}}`},
		{`{"class":"core","subclass":"session","cmd":"log","data":{"source":"s","message":"m"},"tid":10}`, `{"result":"ok","tid":10}`},
		{`{"class":"core","subclass":"event","cmd":"subscribe","data":{"subclass":"x"},"tid":11}`, `{"result":"error","tid":11,"data":{"code":100045,"error":"Missing field: class"}}`},
		{`{"class":"core","subclass":"event","cmd":"subscribe","data":{"class":"media","service":"other"},"tid":12}`, `{"result":"error","tid":12,"data":{"code":100044,"error":"Syntax error: unknown service"}}`},
		{`{"class":"core","subclass":"event","cmd":"subscribe","data":{"class":"media","subclass":"session","body":{"k":"v"}},"tid":13}`, `{"result":"ok","tid":13}`},
		{`{"class":"core","subclass":"event","cmd":"unsubscribe","data":{"class":"never"},"tid":14}`, `{"result":"ok","tid":14}`},
		{`{"class":"core","subclass":"event","cmd":"send","data":{"class":"my_class","body":{"k":1}},"tid":15}`, `{"result":"ok","tid":15}`},
		{`{"class":"core","subclass":"event","cmd":"send","data":{"class":"c","body":"text"},"tid":16}`, `{"result":"error","tid":16,"data":{"code":100044,"error":"Syntax error: body"}}`},
		{`{"class":"core","subclass":"user","cmd":"dance","tid":17}`, `{"result":"error","tid":17,"data":{"code":100042,"error":"Unknown command 'dance'"}}`},
		{`{"class":"media","cmd":"start","tid":18}`, `{"result":"error","tid":18,"data":{"code":100006,"error":"Not implemented"}}`},
		{`{"class":"core","cmd":"event","data":{"class":"x"},"tid":19}`, `{"result":"ok","tid":19}`},
		{`{"class":"core","subclass":"user","cmd":"get","data":{"user":7},"tid":20}`, `{"result":"error","tid":20,"data":{"code":100044,"error":"Syntax error: user"}}`},
		{`{"class":"core","subclass":"user","cmd":"list","data":[],"tid":21}`, `{"result":"error","tid":21,"data":{"code":100044,"error":"Syntax error: data is not an object"}}`},
		{`{"class":7,"cmd":"list","tid":22}`, `{"result":"error","tid":22,"data":{"code":100044,"error":"Syntax error: class is not a string"}}`},
		{`{"class":"core","subclass":"session","cmd":"cmd","data":{"session_id":"s2","cmd":"x"},"tid":23}`, `{"result":"error","tid":23,"data":{"code":100045,"error":"Missing field: class"}}`},
		{`{"class":"core","subclass":"session","cmd":"cmd","data":{"session_id":"s2","class":"a","cmd":"b","data":[1]},"tid":24}`, `{"result":"error","tid":24,"data":{"code":100044,"error":"Syntax error: data"}}`},
		{`{"class":"core","subclass":"event","cmd":"unsubscribe","data":{"type":"t"},"tid":25}`, `{"result":"error","tid":25,"data":{"code":100045,"error":"Missing field: class"}}`},
		{`{"class":"core","subclass":"user","cmd":"send_event","data":{"type":"t"},"tid":26}`, `{"result":"error","tid":26,"data":{"code":100045,"error":"Missing field: user"}}`},
		{`{"class":"core","subclass":"session","cmd":"send_event","data":{"session_id":"nobody","type":"t","body":{"k":1}},"tid":27}`, `{"result":"ok","tid":27}`},
		{`{"class":"core","subclass":"session","cmd":"stop","tid":28}`, `{"result":"error","tid":28,"data":{"code":100045,"error":"Missing field: session_id"}}`},
		{`{"class":"core","subclass":"event","cmd":"send","data":{"subclass":"x"},"tid":29}`, `{"result":"error","tid":29,"data":{"code":100045,"error":"Missing field: class"}}`},
	}
	node := ""
	for _, tc := range cases {
		c.raw(tc.frame)
		want := tc.want
		got := c.next()
		if strings.Contains(want, "NODE") {
			// The node id is random per process: take it from the frame.
			if i := strings.Index(got, `"node":"`); i >= 0 {
				node = got[i+8 : i+8+strings.IndexByte(got[i+8:], '"')]
			}
			want = strings.ReplaceAll(want, "NODE", node)
		}
		if got != want {
			t.Errorf("%s\n got  %s\n want %s", tc.frame, got, want)
		}
	}

	// get_subscriptions: ack first, then the automatic ones and ours.
	c.raw(`{"class":"core","subclass":"event","cmd":"get_subscriptions","tid":"g"}`)
	c.expect(`{"ack":"g"}`)
	c.expect(`{"result":"ok","tid":"g","data":[` +
		`{"class":"core","subclass":"session_event","type":"*","obj_id":"s1"},` +
		`{"class":"core","subclass":"user_event","type":"*","obj_id":"admin"},` +
		`{"class":"media","subclass":"session","type":"*","obj_id":"*","body":{"k":"v"}}]}`)

	// The core knows them too (DirectoryService.ListSubscriptions).
	dir := pb.NewDirectoryServiceClient(s.Conn)
	ls, err := dir.ListSubscriptions(context.Background(), &pb.ListSubscriptionsRequest{SessionId: "s1"})
	if err != nil || len(ls.Subscriptions) != 1 || ls.Subscriptions[0].Data != `{"k":"v"}` || ls.Subscriptions[0].Filter.Channels[0] != "media" {
		t.Fatalf("ListSubscriptions = %v, %v", ls, err)
	}

	// A user may not list users, nor send to others' events or core classes.
	u.raw(`{"class":"core","subclass":"user","cmd":"list","tid":1}`)
	u.expect(`{"result":"error","tid":1,"data":{"code":100030,"error":"Unauthorized"}}`)
	u.raw(`{"class":"core","subclass":"user","cmd":"send_event","data":{"user":"admin"},"tid":2}`)
	u.expect(`{"result":"error","tid":2,"data":{"code":100030,"error":"Unauthorized"}}`)
	u.raw(`{"class":"core","subclass":"event","cmd":"subscribe","data":{"class":"core"},"tid":3}`)
	u.expect(`{"result":"error","tid":3,"data":{"code":100030,"error":"Unauthorized"}}`)
	u.raw(`{"class":"core","subclass":"event","cmd":"subscribe","data":{"class":"chat"},"tid":4}`)
	u.expect(`{"result":"ok","tid":4}`)
	u.raw(`{"class":"core","subclass":"session","cmd":"cmd","data":{"session_id":"s1","class":"a","cmd":"b"},"tid":5}`)
	u.expect(`{"result":"error","tid":5,"data":{"code":100030,"error":"Unauthorized"}}`)
}

func TestPermissionsConfigured(t *testing.T) {
	s := start(t, func(c *app.Config) {
		c.NkService.SubscribeClasses = []string{"chat"}
		c.NkService.SendClasses = []string{}
	})
	u := dial(t, s)
	u.login("alice", s.Token(t, "alice"), "s1")
	u.raw(`{"class":"core","subclass":"event","cmd":"subscribe","data":{"class":"chat"},"tid":1}`)
	u.expect(`{"result":"ok","tid":1}`)
	u.raw(`{"class":"core","subclass":"event","cmd":"subscribe","data":{"class":"media"},"tid":2}`)
	u.expect(`{"result":"error","tid":2,"data":{"code":100030,"error":"Unauthorized"}}`)
	u.raw(`{"class":"core","subclass":"event","cmd":"send","data":{"class":"chat"},"tid":3}`)
	u.expect(`{"result":"error","tid":3,"data":{"code":100030,"error":"Unauthorized"}}`)
	// Its own events stay open to it.
	u.tid = 3
	u.ok("session", "send_event", map[string]any{"session_id": "s1", "type": "t"})
	if got := u.event(); got != `{"class":"core","subclass":"session_event","type":"t","obj_id":"s1"}` {
		t.Fatalf("own session event: %s", got)
	}
}

func TestMalformedFrames(t *testing.T) {
	s := start(t, nil)
	other := dial(t, s)
	other.login(adminUser, adminPass, "keep")

	for _, tc := range []struct{ frame, want string }{
		{`{not json`, `{"result":"error","tid":null,"data":{"code":100044,"error":"Syntax error: invalid JSON"}}`},
		{`{"hello":1}`, `{"result":"error","tid":null,"data":{"code":100044,"error":"Syntax error: unrecognised envelope"}}`},
		{`{"class":"core","cmd":"x","tid":{}}`, `{"result":"error","tid":null,"data":{"code":100044,"error":"Syntax error: unrecognised envelope"}}`},
		{`[1,2]`, `{"result":"error","tid":null,"data":{"code":100044,"error":"Syntax error: invalid JSON"}}`},
	} {
		c := dial(t, s)
		c.raw(tc.frame)
		c.expect(tc.want)
		if code := c.closed(); code != websocket.StatusUnsupportedData {
			t.Errorf("%s: close code %v", tc.frame, code)
		}
	}
	// The other connection is untouched.
	other.ok("event", "subscribe", map[string]any{"class": "still"})
	other.ok("event", "send", map[string]any{"class": "still", "type": "here"})
	if got := other.event(); got != `{"class":"still","type":"here"}` {
		t.Fatalf("event after the others' errors: %s", got)
	}
}

func TestUnansweredRequestCloses(t *testing.T) {
	s := start(t, func(c *app.Config) { c.NkService.ReplyTimeout = app.Duration(300 * time.Millisecond) })
	quiet := dial(t, s)
	quiet.login(adminUser, adminPass, "quiet")
	quiet.ok("event", "subscribe", map[string]any{"class": "news"})
	polite := dial(t, s)
	polite.login(adminUser, adminPass, "polite")
	polite.ok("event", "subscribe", map[string]any{"class": "news"})
	polite.ok("event", "send", map[string]any{"class": "news"})
	if got := polite.event(); got != `{"class":"news"}` {
		t.Fatal(got)
	}
	// quiet reads the event but never answers it.
	if got := quiet.next(); !strings.HasPrefix(got, `{"class":"core","cmd":"event","tid":1,`) {
		t.Fatalf("quiet got %s", got)
	}
	if code := quiet.closed(); code != websocket.StatusPolicyViolation {
		t.Fatalf("close code %v", code)
	}
	// An acked request is given more time: polite acks the next event and
	// keeps working past the reply timeout.
	polite.ok("event", "send", map[string]any{"class": "news", "type": "acked"})
	f := polite.next()
	if !strings.HasPrefix(f, `{"class":"core","cmd":"event","tid":2,`) {
		t.Fatal(f)
	}
	polite.raw(`{"ack":2}`)
	polite.ok("event", "send", map[string]any{"class": "news", "type": "after"})
	if got := polite.event(); got != `{"class":"news","type":"after"}` {
		t.Fatal(got)
	}
	polite.raw(`{"result":"ok","tid":2}`)
	polite.barrier()
}

// TestUnrecognizedFields: keys a command does not know are accepted, and
// after the ok reply the caller's session gets the event
// core/session_event/unrecognized_fields with {class, subclass, cmd,
// fields} (fields sorted). Failed commands, login and core/event send none.
func TestUnrecognizedFields(t *testing.T) {
	s := start(t, nil)
	c := dial(t, s)
	// Login takes any keys (they go to the login check whole).
	tid := c.req("user", "login", map[string]any{"user": adminUser, "password": adminPass, "session_id": "s1", "meta": map[string]any{"k": "v"}})
	c.expect(fmt.Sprintf(`{"ack":%d}`, tid))
	c.expect(fmt.Sprintf(`{"result":"ok","tid":%d,"data":{"session_id":"s1"}}`, tid))
	c.barrier()

	unknown := func(sub, cmd, fields string) string {
		return `{"class":"core","subclass":"session_event","type":"unrecognized_fields","obj_id":"s1","body":{"class":"core","subclass":"` +
			sub + `","cmd":"` + cmd + `","fields":` + fields + `}}`
	}
	c.raw(`{"class":"core","subclass":"user","cmd":"list","data":{"zeta":1,"alpha":true},"tid":"l"}`)
	c.expect(`{"result":"ok","tid":"l","data":{"admin":["s1"]}}`)
	if got, want := c.event(), unknown("user", "list", `["alpha","zeta"]`); got != want {
		t.Fatalf("user/list:\n got  %s\n want %s", got, want)
	}

	c.raw(`{"class":"core","subclass":"event","cmd":"subscribe","data":{"class":"news","type":"t","colour":"red"},"tid":"s"}`)
	c.expect(`{"result":"ok","tid":"s"}`)
	if got, want := c.event(), unknown("event", "subscribe", `["colour"]`); got != want {
		t.Fatalf("event/subscribe:\n got  %s\n want %s", got, want)
	}
	// unsubscribe repeats the fields but the body: a body is not one of its keys.
	c.raw(`{"class":"core","subclass":"event","cmd":"unsubscribe","data":{"class":"news","type":"t","body":{}},"tid":"u"}`)
	c.expect(`{"result":"ok","tid":"u"}`)
	if got, want := c.event(), unknown("event", "unsubscribe", `["body"]`); got != want {
		t.Fatalf("event/unsubscribe:\n got  %s\n want %s", got, want)
	}
	// After an acked answer too.
	c.raw(`{"class":"core","subclass":"event","cmd":"get_subscriptions","data":{"all":true},"tid":"g"}`)
	c.expect(`{"ack":"g"}`)
	c.expect(`{"result":"ok","tid":"g","data":[` +
		`{"class":"core","subclass":"session_event","type":"*","obj_id":"s1"},` +
		`{"class":"core","subclass":"user_event","type":"*","obj_id":"admin"}]}`)
	if got, want := c.event(), unknown("event", "get_subscriptions", `["all"]`); got != want {
		t.Fatalf("event/get_subscriptions:\n got  %s\n want %s", got, want)
	}

	// No event for a command that failed, for known keys only, or for
	// core/event (any keys).
	c.raw(`{"class":"core","subclass":"session","cmd":"stop","data":{"session_id":"nope","why":"x"},"tid":"f"}`)
	c.expect(`{"result":"error","tid":"f","data":{"code":100062,"error":"Session not found"}}`)
	c.raw(`{"class":"core","subclass":"session","cmd":"log","data":{"source":"a","message":"b","level":2,"full_message":"c","meta":{}},"tid":"k"}`)
	c.expect(`{"result":"ok","tid":"k"}`)
	c.raw(`{"class":"core","cmd":"event","data":{"class":"x","extra":1},"tid":"e"}`)
	c.expect(`{"result":"ok","tid":"e"}`)
	c.barrier()
}
