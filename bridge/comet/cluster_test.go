package comet_test

import (
	"testing"

	"github.com/switchboard-hub/switchboard/internal/app"
	"github.com/switchboard-hub/switchboard/internal/redistest"
	"github.com/switchboard-hub/switchboard/internal/streamable"
)

// A session key issued by one node is accepted by another over a real
// Redis; revoked on the second, it is refused by the first. Admin login
// events of one node reach streams on the other.
func TestSessionKeyAcrossNodes(t *testing.T) {
	addr := redistest.Addr(t)
	prefix := redistest.Prefix(t, addr)
	redis := func(c *app.Config) { c.Engine = app.Engine{Type: "redis", Address: addr, Prefix: prefix} }
	a, b := start(t, redis), start(t, redis)

	onB := open(t, b, "allowList=4155,4156")
	key := startSession(t, a, adminUser, adminPass)
	if ev := readEvent(t, onB); ev.Type != streamable.AdminSessionStart || ev.Actor != adminUser {
		t.Fatalf("node B saw %+v, want the session start on node A", ev)
	}

	c := dial(t, b, "")
	if got := login(t, c, adminUser, "SessionKey", "", key, ""); got != "200 OK" {
		t.Fatalf("node B answered %q to node A's key", got)
	}
	if ev := readEvent(t, c); ev.Type != streamable.MetaHello {
		t.Fatalf("first event on B %+v", ev)
	}

	if resp, body := post(t, b, "/api/v1/admin/account/session-revoke", form(adminUser, "SessionKey", "", key, "")); resp.StatusCode != 200 {
		t.Fatalf("revoke on B: %d %v", resp.StatusCode, body)
	}
	if ev := readEvent(t, onB); ev.Type != streamable.AdminSessionRevoke {
		t.Fatalf("node B saw %+v, want the revoke", ev)
	}
	c = dial(t, a, "")
	if got := login(t, c, adminUser, "SessionKey", "", key, ""); got != "403 Unauth" {
		t.Fatalf("node A answered %q to a key revoked on B", got)
	}
	wantDropped(t, c)
}
