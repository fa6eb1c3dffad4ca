package nkservice_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// TestWildcardMatrix: each field concrete, "*" or omitted on both sides;
// every matching event arrives exactly once, wildcard fields omitted.
func TestWildcardMatrix(t *testing.T) {
	s := start(t, nil)
	sender := dial(t, s)
	sender.login(adminUser, adminPass, "sender")

	type addr struct{ sub, typ, obj string } // "" omitted, "*" star
	subs := []addr{
		{"", "", ""}, // class only (nkservice's duplicate bug: must come once)
		{"*", "*", "*"},
		{"s", "", ""},
		{"s", "t", ""},
		{"s", "t", "o"},
		{"*", "t", ""}, // per-field, not the reference's three probes
		{"", "", "o"},
	}
	events := []addr{
		{"", "", ""},
		{"*", "*", "*"},
		{"s", "", ""},
		{"s", "t", ""},
		{"s", "t", "o"},
		{"x", "t", "o"},
		{"", "t", ""},
		{"s", "u", "o"},
	}
	norm := func(v string) string {
		if v == "*" {
			return ""
		}
		return v
	}
	matches := func(sub, ev addr) bool {
		f := func(s, e string) bool { return norm(s) == "" || norm(s) == norm(e) }
		return f(sub.sub, ev.sub) && f(sub.typ, ev.typ) && f(sub.obj, ev.obj)
	}
	fields := func(a addr, class string) map[string]any {
		m := map[string]any{"class": class}
		for k, v := range map[string]string{"subclass": a.sub, "type": a.typ, "obj_id": a.obj} {
			if v != "" {
				m[k] = v
			}
		}
		return m
	}
	// One connection per subscription, plus one holding them all (an event
	// matching several of its subscriptions still comes once).
	conns := make([]*client, len(subs))
	all := dial(t, s)
	all.login(adminUser, adminPass, "all")
	for i, sb := range subs {
		conns[i] = dial(t, s)
		conns[i].login(adminUser, adminPass, fmt.Sprintf("c%d", i))
		conns[i].ok("event", "subscribe", fields(sb, "m"))
		all.ok("event", "subscribe", fields(sb, "m"))
	}
	for _, ev := range events {
		sender.ok("event", "send", fields(ev, "m"))
	}
	want := func(ev addr) string {
		out := `{"class":"m"`
		for _, kv := range [][2]string{{"subclass", ev.sub}, {"type", ev.typ}, {"obj_id", ev.obj}} {
			if v := norm(kv[1]); v != "" {
				out += fmt.Sprintf(`,%q:%q`, kv[0], v)
			}
		}
		return out + "}"
	}
	for i, sb := range subs {
		for _, ev := range events {
			if matches(sb, ev) {
				if got := conns[i].event(); got != want(ev) {
					t.Errorf("subscription %+v: got %s, want %s", sb, got, want(ev))
				}
			}
		}
		conns[i].barrier() // nothing else, no duplicate
	}
	for _, ev := range events {
		for _, sb := range subs {
			if matches(sb, ev) {
				if got := all.event(); got != want(ev) {
					t.Errorf("all: got %s, want %s", got, want(ev))
				}
				break
			}
		}
	}
	all.barrier()
}

func TestBodyMerge(t *testing.T) {
	s := start(t, nil)
	c := dial(t, s)
	c.login(adminUser, adminPass, "m1")
	c.ok("event", "subscribe", map[string]any{"class": "media", "body": map[string]any{"mine": 1, "k": "sub"}})
	c.ok("event", "subscribe", map[string]any{"class": "plain"})
	c.ok("event", "send", map[string]any{"class": "media", "body": map[string]any{"k": "event", "e": true}})
	if got := c.event(); !jsonEqual(got, `{"class":"media","body":{"mine":1,"k":"event","e":true}}`) {
		t.Fatalf("merged: %s", got)
	}
	c.ok("event", "send", map[string]any{"class": "media"})
	if got := c.event(); !jsonEqual(got, `{"class":"media","body":{"mine":1,"k":"sub"}}`) {
		t.Fatalf("no event body: %s", got)
	}
	c.ok("event", "send", map[string]any{"class": "plain", "body": map[string]any{}})
	if got := c.event(); got != `{"class":"plain"}` {
		t.Fatalf("empty body is omitted: %s", got)
	}
	// Subscribing again with the same fields replaces the body (§6.6).
	c.ok("event", "subscribe", map[string]any{"class": "media", "body": map[string]any{"other": 2}})
	c.ok("event", "send", map[string]any{"class": "media", "body": map[string]any{"k": 3}})
	if got := c.event(); !jsonEqual(got, `{"class":"media","body":{"other":2,"k":3}}`) {
		t.Fatalf("replaced body: %s", got)
	}
	c.ok("event", "unsubscribe", map[string]any{"class": "media", "subclass": "*"})
	c.ok("event", "send", map[string]any{"class": "media"})
	c.barrier()
}

// TestUserAndSessionEvents: user events reach every session of the user,
// session events only that session, and no one else.
func TestUserAndSessionEvents(t *testing.T) {
	s := start(t, nil)
	admin := dial(t, s)
	admin.login(adminUser, adminPass, "adm")
	a1, a2, b := dial(t, s), dial(t, s), dial(t, s)
	a1.login("alice", s.Token(t, "alice"), "a1")
	a2.login("alice", s.Token(t, "alice"), "a2")
	b.login("bob", s.Token(t, "bob"), "b1")

	admin.ok("user", "send_event", map[string]any{"user": "alice", "type": "hello", "body": map[string]any{"key": "val"}})
	for _, c := range []*client{a1, a2} {
		if got := c.event(); got != `{"class":"core","subclass":"user_event","type":"hello","obj_id":"alice","body":{"key":"val"}}` {
			t.Fatalf("user event: %s", got)
		}
	}
	admin.ok("session", "send_event", map[string]any{"session_id": "a2"})
	if got := a2.event(); got != `{"class":"core","subclass":"session_event","obj_id":"a2"}` {
		t.Fatalf("session event: %s", got)
	}
	// event/send of a user event goes the same way.
	b.ok("event", "send", map[string]any{"class": "core", "subclass": "user_event", "obj_id": "bob", "type": "self"})
	if got := b.event(); got != `{"class":"core","subclass":"user_event","type":"self","obj_id":"bob"}` {
		t.Fatalf("own user event: %s", got)
	}
	for _, c := range []*client{a1, a2, b} {
		c.barrier()
	}
}

// TestCrossFace: an event/send reaches gRPC subscribers; a gRPC publish
// reaches NkSERVICE subscriptions.
func TestCrossFace(t *testing.T) {
	s := start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	st, err := s.Hub.Subscribe(ctx, &pb.SubscribeRequest{Filters: []*pb.Filter{{Channels: []string{"media"}, Subjects: []string{"call"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if m, err := st.Recv(); err != nil || m.GetSubscribed() == nil {
		t.Fatalf("subscribed: %v, %v", m, err)
	}
	c := dial(t, s)
	c.login(adminUser, adminPass, "x1")
	c.ok("event", "subscribe", map[string]any{"class": "media", "type": "ring"})
	c.ok("event", "send", map[string]any{"class": "media", "subclass": "call", "type": "start", "obj_id": "42", "body": map[string]any{"a": 1}})
	m, err := st.Recv()
	ev := m.GetEvent()
	if err != nil || ev.Channel != "media" || ev.Subject != "call" || ev.Name != "start" || ev.Key != "42" || ev.Data != `{"a":1}` ||
		ev.Publisher.GetUser() != adminUser || ev.Publisher.GetClient() != "x1" {
		t.Fatalf("gRPC got %v, %v", ev, err)
	}
	if _, err := s.Hub.Publish(ctx, &pb.PublishRequest{Event: &pb.Event{Channel: "media", Name: "ring", Key: "7", Data: `{"from":"grpc"}`}}); err != nil {
		t.Fatal(err)
	}
	if got := c.event(); got != `{"class":"media","type":"ring","obj_id":"7","body":{"from":"grpc"}}` {
		t.Fatalf("NkSERVICE got %s", got)
	}
	// A non-object payload (a comet string) arrives without body.
	if _, err := s.Hub.Publish(ctx, &pb.PublishRequest{Event: &pb.Event{Channel: "media", Name: "ring", Data: `"text"`}}); err != nil {
		t.Fatal(err)
	}
	if got := c.event(); !strings.HasPrefix(got, `{"class":"media","type":"ring"}`) {
		t.Fatalf("NkSERVICE got %s", got)
	}
}
