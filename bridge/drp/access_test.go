package drp_test

import (
	"fmt"
	"testing"
)

// TestRegisterOnLimitedChannels: a socket registered on channels the core
// limits gets only what the core's audience admits it to, whether the
// filter names nothing else (no upstream at all) or shares a stream with
// open channels: "dialog#alice" is alice's, "$secret" is for the server
// side (admins), "private_room" for any logged-in user.
func TestRegisterOnLimitedChannels(t *testing.T) {
	srv := start(t, nil)
	clients := map[string]*client{
		"admin": connect(t, srv, basic(adminUser, adminPass)),
		"alice": connect(t, srv, "Bearer "+srv.Token(t, "alice")),
		"bob":   connect(t, srv, "Bearer "+srv.Token(t, "bob")),
	}
	want := map[string]map[string]string{
		"dialog#alice": {"admin": "[dialog#alice/say/1]", "alice": "[dialog#alice/say/1]", "bob": "[]"},
		"$secret":      {"admin": "[$secret/say/1]", "alice": "[]", "bob": "[]"},
		"private_room": {"admin": "[private_room/say/1]", "alice": "[private_room/say/1]", "bob": "[private_room/say/1]"},
	}
	for _, typ := range []string{"dialog#alice", "$secret", "private_room"} {
		for name, c := range clients {
			// The filter alone first: a socket that may read none of it
			// holds no upstream, and gets nothing.
			c.do("register", typ+".*.*")
			got := c.check(srv, func() { publish(t, srv, typ, "say", "1") })
			if fmt.Sprint(got) != want[typ][name] {
				t.Errorf("%s registered on %s got %v; want %v", name, typ, got, want[typ][name])
			}
			c.do("deregister", typ+".*.*")
		}
	}
}
