package memory

import (
	"context"
	"testing"
	"time"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/services/engine"
)

// These tests look inside the engine: that memory stays bounded cannot be
// seen through the interface.

func (e *Engine) streamCount() int {
	n := 0
	for i := range e.shards {
		sh := &e.shards[i]
		sh.mu.RLock()
		n += len(sh.streams)
		sh.mu.RUnlock()
	}
	return n
}

func (e *Engine) userCount() int {
	e.users.mu.Lock()
	defer e.users.mu.Unlock()
	return len(e.users.m)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSweepRemovesIdleStreams(t *testing.T) {
	e := New(Options{MetaTTL: 20 * time.Millisecond, SweepInterval: 5 * time.Millisecond})
	t.Cleanup(func() { e.Close() })
	ctx := context.Background()
	for i := 0; i < 100; i++ {
		ev := &pb.Event{Tenant: "t", Channel: string(rune('a' + i%26)), Data: "1"}
		opts := engine.HistoryOptions{Size: 5, TTL: 30 * time.Millisecond}
		if i%2 == 0 {
			opts = engine.HistoryOptions{} // no history: meta only
		}
		if _, err := e.Publish(ctx, ev, opts); err != nil {
			t.Fatal(err)
		}
	}
	if e.streamCount() == 0 {
		t.Fatalf("no streams after publishing")
	}
	waitFor(t, "idle streams to be removed", func() bool { return e.streamCount() == 0 })
}

func TestSweepKeepsMetaForHistoryTTL(t *testing.T) {
	// The stream must outlive its last event by the history TTL even when
	// the meta TTL is shorter. The sweep is driven by hand with a clock
	// set ahead, so the test does not wait for real time to pass.
	e := New(Options{MetaTTL: time.Millisecond, SweepInterval: time.Hour})
	t.Cleanup(func() { e.Close() })
	ctx := context.Background()
	ev := &pb.Event{Tenant: "t", Channel: "c"}
	if _, err := e.Publish(ctx, ev, engine.HistoryOptions{Size: 5, TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	sweepAt := func(ahead time.Duration) {
		now := e.now() + int64(ahead)
		for i := range e.shards {
			e.shards[i].sweep(now)
		}
	}
	sweepAt(30 * time.Minute)
	if n := e.streamCount(); n != 1 {
		t.Fatalf("%d streams after a sweep within the history TTL, want 1", n)
	}
	sweepAt(2 * time.Hour)
	if n := e.streamCount(); n != 0 {
		t.Fatalf("%d streams after a sweep past the history TTL, want 0", n)
	}
}

func TestSweepDropsOldQueues(t *testing.T) {
	e := New(Options{QueueTTL: 20 * time.Millisecond, SweepInterval: 5 * time.Millisecond})
	t.Cleanup(func() { e.Close() })
	ctx := context.Background()
	if err := e.Enqueue(ctx, "t", "u", &pb.Event{Data: "1"}, 10); err != nil {
		t.Fatal(err)
	}
	if _, err := e.AddSession(ctx, &pb.Session{Id: "s", Tenant: "t", User: "online"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the queue to be dropped", func() bool { return e.userCount() == 1 })
	if n, _ := e.UserSessions(ctx, "t", "online"); n != 1 {
		t.Fatalf("the sweep dropped an online user's session")
	}
}
