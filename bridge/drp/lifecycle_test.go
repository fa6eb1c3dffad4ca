package drp_test

import (
	"fmt"
	"testing"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// TestLifecycleChannelsAreNotServed: the core's sys: channels are for
// api-key callers; a DRP client naming them (or asking for everything)
// gets none of their events, although the face's own upstream stream is
// trusted: DRP shows publications only.
func TestLifecycleChannelsAreNotServed(t *testing.T) {
	srv := start(t, nil)
	c := connect(t, srv, basic(adminUser, adminPass))
	for _, f := range []string{"sys:sessions.*.*", "sys:users,sys:subscriptions.*.*", "*.*.*"} {
		c.do("register", f)
	}
	got := c.check(srv, func() {
		r, err := srv.Sessions.Connect(ctxT(t), &pb.ConnectRequest{Session: &pb.Session{User: "7", Face: "test"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := srv.Sessions.Join(ctxT(t), &pb.JoinRequest{SessionId: r.Session.Id, Channels: []string{"machines"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := srv.Sessions.Close(ctxT(t), &pb.CloseRequest{SessionId: r.Session.Id}); err != nil {
			t.Fatal(err)
		}
		publish(t, srv, "machines", "save", "m1")
	})
	// The marker arrives through "*.*.*" as well as its own filter: once.
	if fmt.Sprint(got) != "[machines/save/m1]" {
		t.Fatalf("delivered %v, want only the published event", got)
	}
}
