package hub_test

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/services/engine/memory"
	"github.com/switchboard-hub/switchboard/services/hub"
)

// TestConnectRefusesTakenID: a session id in use is refused with
// ALREADY_EXISTS, on this node or another (the cluster's directory); of
// concurrent Connects with one id exactly one wins; the id is free again
// once its session closed.
func TestConnectRefusesTakenID(t *testing.T) {
	ctx := ctxFor(t)
	// A live session of another node is in the engine's directory only.
	eng := memory.New(memory.Options{})
	t.Cleanup(func() { _ = eng.Close() })
	other := &pb.Session{Id: "elsewhere", User: "w", Face: "test", Node: "other-node"}
	if err := eng.AddPresence(ctx, "", hub.DirectoryChannel, other); err != nil {
		t.Fatal(err)
	}
	h := hub.New(hub.Options{Engine: eng})
	_, err := h.SessionService().Connect(ctx, &pb.ConnectRequest{Session: &pb.Session{Id: "elsewhere", User: "u", Face: "test"}})
	if status.Code(err) != codes.AlreadyExists {
		t.Fatalf("Connect with another node's session id: %v", err)
	}
	if got, err := eng.Presence(ctx, "", hub.DirectoryChannel); err != nil || len(got) != 1 || got[0].GetNode() != "other-node" {
		t.Fatalf("directory after the refusal: %v, %v", got, err)
	}
	h.Shutdown()

	c := start(t, hub.Options{})
	const n = 8
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := c.Sessions.Connect(ctx, &pb.ConnectRequest{Session: &pb.Session{Id: "taken", User: "u", Face: "test"}})
			errs <- err
		}()
	}
	won := 0
	for range n {
		switch err := <-errs; status.Code(err) {
		case codes.OK:
			won++
		case codes.AlreadyExists:
		default:
			t.Fatalf("Connect: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d of %d Connects with one id succeeded", won, n)
	}
	if _, err := c.Sessions.Close(ctx, &pb.CloseRequest{SessionId: "taken"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Sessions.Connect(ctx, &pb.ConnectRequest{Session: &pb.Session{Id: "taken", User: "v", Face: "test"}}); err != nil {
		t.Fatalf("Connect after Close: %v", err)
	}
}
