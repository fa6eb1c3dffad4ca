package cppcomet_test

import (
	"strings"
	"testing"

	"github.com/switchboard-hub/switchboard/internal/app"
	"github.com/switchboard-hub/switchboard/internal/redistest"
)

// TestLifecyclePipesAcrossNodes: user_status_ and track_ pipes on one node
// show what happens on another. User 42 has a connection on B, then one on
// A: the watcher on A sees online once, the B connection's subscription
// and leaving on track_room, and offline only after the A one closed too.
func TestLifecyclePipesAcrossNodes(t *testing.T) {
	addr := redistest.Addr(t)
	prefix := redistest.Prefix(t, addr)
	redis := func(c *app.Config) { c.Engine = app.Engine{Type: "redis", Address: addr, Prefix: prefix} }
	a, b := start(t, redis), start(t, redis)

	watcher := a.anon(t, 0, "w")
	watcher.subscribe("user_status_42", "track_room")
	onB := b.login(t, 42, 0, "on-b")
	online := watcher.readNorm()
	onA := a.login(t, 42, 0, "on-a")
	onB.subscribe("track_room")
	joined := watcher.readNorm()
	onB.conn.CloseNow()
	left := watcher.readNorm() // and no offline: the user is still on A
	onA.conn.CloseNow()
	offline := watcher.readNorm()
	golden(t, "lifecycle_cluster", online, joined, left, offline)

	watcher.send("user_status\n42")
	if f := watcher.readNorm(); !strings.Contains(f, `"pipe":"_answer_user_status"`) || strings.Contains(f, `"data":-1`) {
		t.Fatalf("user_status after both left: %s, want seconds since last online", f)
	}
}
