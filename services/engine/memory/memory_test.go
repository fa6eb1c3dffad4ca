package memory_test

import (
	"context"
	"testing"
	"time"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/services/engine"
	"github.com/switchboard-hub/switchboard/services/engine/enginetest"
	"github.com/switchboard-hub/switchboard/services/engine/memory"
)

func TestSuite(t *testing.T) {
	enginetest.Run(t, func(t *testing.T) engine.Engine {
		e := memory.New(memory.Options{})
		t.Cleanup(func() { e.Close() })
		return e
	})
}

// poll retries cond until it holds or a deadline passes.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestNodesExpire(t *testing.T) {
	e := memory.New(memory.Options{NodeTTL: 50 * time.Millisecond, SweepInterval: 10 * time.Millisecond})
	t.Cleanup(func() { e.Close() })
	ctx := context.Background()
	if err := e.UpdateNode(ctx, &pb.NodeInfo{Id: "n1"}); err != nil {
		t.Fatal(err)
	}
	if list, err := e.Nodes(ctx); err != nil || len(list) != 1 {
		t.Fatalf("Nodes = %v, %v; want the fresh node", list, err)
	}
	poll(t, "the node to expire", func() bool {
		list, err := e.Nodes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return len(list) == 0
	})
}

// TestIdleChannelGetsNewEpoch: once a channel's events and meta have
// expired, the sweeper retires its stream, and the channel starts over with
// a new epoch so that old positions are refused rather than misread.
func TestIdleChannelGetsNewEpoch(t *testing.T) {
	e := memory.New(memory.Options{MetaTTL: time.Millisecond, SweepInterval: 5 * time.Millisecond})
	t.Cleanup(func() { e.Close() })
	ctx := context.Background()
	ev := &pb.Event{Tenant: "t", Channel: "c"}
	if _, err := e.Publish(ctx, ev, engine.HistoryOptions{Size: 10, TTL: 30 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	old := &pb.StreamPosition{Offset: ev.Offset, Epoch: ev.Epoch}
	poll(t, "the idle stream to be retired", func() bool {
		ev := &pb.Event{Tenant: "t", Channel: "c"}
		pos, err := e.Publish(ctx, ev, engine.HistoryOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return pos.Epoch != old.Epoch
	})
	if _, _, err := e.History(ctx, "t", "c", engine.HistoryQuery{Since: old}); err == nil {
		t.Fatalf("History since a position of the retired stream succeeded")
	}
}
