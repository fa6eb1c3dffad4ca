package enginetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/services/engine"
)

// testConcurrency runs publishers, history readers, presence and user
// updates at once; under -race it shows the engine is free of data races,
// and the end state shows no update was lost.
func testConcurrency(t *testing.T, newEngine NewEngine) {
	e := newEngine(t)
	r := start(t, e)
	subscribe(t, e, engine.AllTenants, engine.AllChannels)
	const workers, rounds = 4, 50
	var wg sync.WaitGroup
	offsetsSeen := make([]map[uint64]bool, workers)
	var mu sync.Mutex
	for w := 0; w < workers; w++ {
		offsetsSeen[w] = map[uint64]bool{}
		wg.Add(4)
		channel := fmt.Sprintf("c%d", w%2) // two workers share each channel
		// Publisher.
		go func() {
			defer wg.Done()
			ctx := ctxFor(t)
			for i := 0; i < rounds; i++ {
				pos, err := e.Publish(ctx, &pb.Event{Tenant: "t", Channel: channel, Data: "1"}, keepAll)
				if err != nil {
					t.Errorf("Publish: %v", err)
					return
				}
				mu.Lock()
				offsetsSeen[w][pos.Offset] = true
				mu.Unlock()
			}
		}()
		// History reader.
		go func() {
			defer wg.Done()
			ctx := ctxFor(t)
			for i := 0; i < rounds; i++ {
				evs, top, err := e.History(ctx, "t", channel, engine.HistoryQuery{Limit: 10, Reverse: i%2 == 0})
				if err != nil {
					t.Errorf("History: %v", err)
					return
				}
				for _, ev := range evs {
					if ev.Offset > top.Offset {
						t.Errorf("history event offset %d above top %d", ev.Offset, top.Offset)
					}
				}
			}
		}()
		// Presence.
		go func() {
			defer wg.Done()
			ctx := ctxFor(t)
			for i := 0; i < rounds; i++ {
				s := session(fmt.Sprintf("w%d-%d", w, i), fmt.Sprintf("u%d", i%3))
				if err := e.AddPresence(ctx, "t", "room", s); err != nil {
					t.Errorf("AddPresence: %v", err)
					return
				}
				if i%2 == 1 {
					if err := e.RemovePresence(ctx, "t", "room", s.Id); err != nil {
						t.Errorf("RemovePresence: %v", err)
						return
					}
				}
				if _, _, err := e.PresenceStats(ctx, "t", "room"); err != nil {
					t.Errorf("PresenceStats: %v", err)
					return
				}
			}
		}()
		// Users.
		go func() {
			defer wg.Done()
			ctx := ctxFor(t)
			for i := 0; i < rounds; i++ {
				s := session(fmt.Sprintf("w%d-%d", w, i), "shared")
				if _, err := e.AddSession(ctx, s); err != nil {
					t.Errorf("AddSession: %v", err)
					return
				}
				if err := e.Enqueue(ctx, "t", "shared", &pb.Event{Tenant: "t", Data: "1"}, 1000); err != nil {
					t.Errorf("Enqueue: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	// Every offset of a channel was handed out exactly once.
	for c := 0; c < 2; c++ {
		all := map[uint64]bool{}
		for w := c; w < workers; w += 2 {
			for o := range offsetsSeen[w] {
				if all[o] {
					t.Fatalf("channel c%d: offset %d handed out twice", c, o)
				}
				all[o] = true
			}
		}
		n := uint64(rounds * workers / 2)
		for o := uint64(1); o <= n; o++ {
			if !all[o] {
				t.Fatalf("channel c%d: offset %d never handed out", c, o)
			}
		}
		evs := r.waitCount(t, "t", fmt.Sprintf("c%d", c), int(n))
		for i, ev := range evs {
			if ev.Offset != uint64(i+1) {
				t.Fatalf("channel c%d: delivery %d has offset %d", c, i, ev.Offset)
			}
		}
	}
	// Half of each worker's presence entries were removed again.
	wantStats(t, e, "t", "room", workers*rounds/2, 3)
	wantUserSessions(t, e, "t", "shared", workers*rounds)
	q, err := e.Drain(ctxFor(t), "t", "shared")
	if err != nil || len(q) != workers*rounds {
		t.Fatalf("Drain = %d events, %v; want %d", len(q), err, workers*rounds)
	}
	if r.overlap.Load() {
		t.Fatalf("the handler was called concurrently for one channel")
	}
}

func testClosed(t *testing.T, newEngine NewEngine) {
	e := newEngine(t)
	ctx := ctxFor(t)
	if err := e.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := e.Publish(ctx, &pb.Event{Tenant: "t", Channel: "c"}, keepAll); !errors.Is(err, engine.ErrClosed) {
		t.Errorf("Publish after Close: %v, want ErrClosed", err)
	}
	if _, _, err := e.History(ctx, "t", "c", engine.HistoryQuery{}); !errors.Is(err, engine.ErrClosed) {
		t.Errorf("History after Close: %v, want ErrClosed", err)
	}
	if err := e.Subscribe(ctx, "t", "c"); !errors.Is(err, engine.ErrClosed) {
		t.Errorf("Subscribe after Close: %v, want ErrClosed", err)
	}
	if err := e.Healthy(ctx); err == nil {
		t.Errorf("Healthy after Close: nil, want an error")
	}
	if err := e.Run(ctx, newRecorder()); !errors.Is(err, engine.ErrClosed) {
		t.Errorf("Run after Close: %v, want ErrClosed", err)
	}
}
