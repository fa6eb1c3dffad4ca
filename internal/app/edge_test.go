package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/coder/websocket"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/app"
	"github.com/switchboard-hub/switchboard/internal/app/apptest"
)

// TestEdgeAgainstRemoteCore runs the faces in a second process-like app
// with `upstream` set: the same bridges, dialing the core over TCP.
func TestEdgeAgainstRemoteCore(t *testing.T) {
	core := apptest.Start(t, nil)
	edge := apptest.Start(t, func(c *app.Config) { c.Upstream = core.GRPCAddr })
	if edge.GRPCAddr != "" {
		t.Fatalf("an edge serves no gRPC API, got %s", edge.GRPCAddr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()

	// A DRP socket on the edge.
	h := http.Header{"Authorization": {"Bearer " + core.Token(t, "alice")}}
	ws, _, err := websocket.Dial(ctx, edge.WSURL+"/api/v3/ws", &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if err := ws.Write(ctx, websocket.MessageText, []byte("register news.*.*")); err != nil {
		t.Fatal(err)
	}
	if _, ack, err := ws.Read(ctx); err != nil || !strings.Contains(string(ack), `"Type":"websocket"`) {
		t.Fatalf("ack: %s %v", ack, err)
	}

	// Published on the core, received on the edge.
	publish(t, core.Hub, &pb.Event{Channel: "news", Name: "save", Key: "k", Data: `{"n":1}`})
	_, frame, err := ws.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ev struct{ Type, Action, Key string }
	if err := json.Unmarshal(frame, &ev); err != nil || ev.Type != "news" || ev.Key != "k" {
		t.Fatalf("edge socket got %s (%v)", frame, err)
	}

	// The edge's REST gateway and readiness go through the core.
	r, err := http.Get(edge.HTTPURL + "/readyz")
	if err != nil || r.StatusCode != http.StatusOK {
		t.Fatalf("edge readyz: %v %v", r, err)
	}
	r.Body.Close()

	// The edge's socket is a session on the core: Disconnect reaches it.
	p, err := core.Hub.Presence(ctx, &pb.PresenceRequest{Channel: "news"})
	if err != nil || len(p.Sessions) != 1 || p.Sessions[0].User != "alice" {
		t.Fatalf("core presence = %v, %v", p, err)
	}
	if _, err := core.Hub.Disconnect(ctx, &pb.DisconnectRequest{User: "alice"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ws.Read(ctx); websocket.CloseStatus(err) == -1 {
		t.Fatalf("edge socket after Disconnect on the core: %v, want a close frame", err)
	}
}
