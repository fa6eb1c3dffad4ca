package hub_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/redistest"
	"github.com/switchboard-hub/switchboard/services/engine"
	"github.com/switchboard-hub/switchboard/services/engine/enginetest"
	"github.com/switchboard-hub/switchboard/services/engine/memory"
	"github.com/switchboard-hub/switchboard/services/engine/redis"
	"github.com/switchboard-hub/switchboard/services/hub"
)

// hubSetup runs a hub on e with one session of user "u" in channel "room"
// (presence kept), and returns the Unsubscribe order that makes the hub
// take it out of the room's presence and announce the leave.
func hubSetup(t *testing.T, e engine.Engine) *engine.Control {
	h := hub.New(hub.Options{Engine: e, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = h.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })

	sessions := h.SessionService()
	r, err := sessions.Connect(ctx, &pb.ConnectRequest{Session: &pb.Session{Tenant: "t", User: "u"}})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	if _, err := sessions.Join(ctx, &pb.JoinRequest{SessionId: r.Session.Id, Channels: []string{"room"}}); err != nil {
		t.Fatalf("Join: %v", err)
	}
	return &engine.Control{Kind: engine.ControlUnsubscribe, Tenant: "t", User: "u", Channel: "room"}
}

// TestHandlerWork: the work an Unsubscribe order causes (leaving presence,
// announcing the leave) never holds back the engine's delivery.
func TestHandlerWork(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		enginetest.CheckHandlerWork(t, func(t *testing.T) engine.Engine {
			e := memory.New(memory.Options{})
			t.Cleanup(func() { e.Close() })
			return e
		}, hubSetup)
	})
	t.Run("redis", func(t *testing.T) {
		addr := redistest.Addr(t)
		enginetest.CheckHandlerWork(t, func(t *testing.T) engine.Engine {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			e, err := redis.New(ctx, redis.Options{Address: addr, Prefix: redistest.Prefix(t, addr)})
			if err != nil {
				t.Fatalf("redis.New: %v", err)
			}
			t.Cleanup(func() { e.Close() })
			return e
		}, hubSetup)
	})
}
