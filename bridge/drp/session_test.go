package drp_test

import (
	"fmt"
	"testing"

	"github.com/coder/websocket"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// TestSessionOrders: a DRP socket is a core session: it shows in presence,
// and Unsubscribe and Disconnect of its user reach it.
func TestSessionOrders(t *testing.T) {
	srv := start(t, nil)
	alice := connect(t, srv, "Bearer "+srv.Token(t, "alice"))
	bob := connect(t, srv, "Bearer "+srv.Token(t, "bob"))
	for _, c := range []*client{alice, bob} {
		c.do("register", "machines,profiles.*.*")
	}
	p, err := srv.Hub.Presence(ctxT(t), &pb.PresenceRequest{Channel: "machines"})
	if err != nil {
		t.Fatal(err)
	}
	users := map[string]string{}
	for _, s := range p.Sessions {
		users[s.User] = s.Face
	}
	if len(p.Sessions) != 2 || users["alice"] != "drp" || users["bob"] != "drp" {
		t.Fatalf("presence of machines = %v, want alice and bob on drp", p.Sessions)
	}

	if _, err := srv.Hub.Unsubscribe(ctxT(t), &pb.UnsubscribeRequest{User: "alice", Channel: "machines"}); err != nil {
		t.Fatal(err)
	}
	// The order travels asynchronously; a later Disconnect of another user
	// is ordered after it on the same control stream, so bob's close is the
	// barrier.
	if _, err := srv.Hub.Disconnect(ctxT(t), &pb.DisconnectRequest{User: "bob", Reason: "banned"}); err != nil {
		t.Fatal(err)
	}
	_, _, err = bob.c.Read(ctxT(t))
	if websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
		t.Fatalf("bob's socket after Disconnect: %v, want close 1008", err)
	}
	publish(t, srv, "machines", "save", "m1")
	publish(t, srv, "profiles", "save", "p1")
	publish(t, srv, "profiles", "save", "end")
	var got []string
	for {
		e, _ := alice.readEvent()
		got = append(got, e.Type+"/"+e.Key)
		if e.Key == "end" {
			break
		}
	}
	if fmt.Sprint(got) != "[profiles/p1 profiles/end]" {
		t.Fatalf("alice after Unsubscribe from machines got %v", got)
	}
}
