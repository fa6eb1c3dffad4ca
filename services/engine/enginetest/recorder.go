package enginetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/services/engine"
)

// chanKey names a channel of a tenant.
type chanKey struct{ tenant, channel string }

// recorder is an engine.Handler that keeps what it is given and notices
// calls for one channel that overlap in time.
type recorder struct {
	mu       sync.Mutex
	events   []*pb.Event
	controls []*engine.Control
	changed  chan struct{} // closed and replaced on every record
	inflight map[chanKey]*atomic.Int32

	overlap atomic.Bool
	gaps    atomic.Int32
}

func newRecorder() *recorder {
	return &recorder{changed: make(chan struct{}), inflight: map[chanKey]*atomic.Int32{}}
}

func (r *recorder) HandleEvent(ev *pb.Event) {
	r.mu.Lock()
	k := chanKey{ev.Tenant, ev.Channel}
	n := r.inflight[k]
	if n == nil {
		n = new(atomic.Int32)
		r.inflight[k] = n
	}
	r.mu.Unlock()
	if n.Add(1) > 1 {
		r.overlap.Store(true)
	}
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.notifyLocked()
	r.mu.Unlock()
	n.Add(-1)
}

func (r *recorder) HandleControl(c *engine.Control) {
	r.mu.Lock()
	r.controls = append(r.controls, c)
	r.notifyLocked()
	r.mu.Unlock()
}

// HandleGap fails the suite: the shared suite never breaks delivery, so no
// engine may report a loss during it.
func (r *recorder) HandleGap(g *engine.Gap) {
	r.gaps.Add(1)
}

func (r *recorder) notifyLocked() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// wait blocks until cond holds over what was recorded so far.
func (r *recorder) wait(t *testing.T, what string, cond func(evs []*pb.Event, ctls []*engine.Control) bool) {
	t.Helper()
	if !r.waitFor(waitTimeout, cond) {
		t.Fatalf("timed out waiting for %s", what)
	}
}

// waitFor is wait that reports a timeout instead of failing.
func (r *recorder) waitFor(timeout time.Duration, cond func(evs []*pb.Event, ctls []*engine.Control) bool) bool {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		r.mu.Lock()
		ok := cond(r.events, r.controls)
		ch := r.changed
		r.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-timer.C:
			return false
		}
	}
}

// of returns the events recorded for one channel, in delivery order.
func (r *recorder) of(tenant, channel string) []*pb.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return filter(r.events, tenant, channel)
}

func filter(evs []*pb.Event, tenant, channel string) []*pb.Event {
	var out []*pb.Event
	for _, ev := range evs {
		if ev.Tenant == tenant && ev.Channel == channel {
			out = append(out, ev)
		}
	}
	return out
}

// waitCount waits until n events of the channel were recorded and returns
// them.
func (r *recorder) waitCount(t *testing.T, tenant, channel string, n int) []*pb.Event {
	t.Helper()
	r.wait(t, fmt.Sprintf("%d events on %q/%q", n, tenant, channel), func(evs []*pb.Event, _ []*engine.Control) bool {
		return len(filter(evs, tenant, channel)) >= n
	})
	return r.of(tenant, channel)
}

// waitID waits for the event with the given id.
func (r *recorder) waitID(t *testing.T, id string) *pb.Event {
	t.Helper()
	var found *pb.Event
	r.wait(t, "event "+id, func(evs []*pb.Event, _ []*engine.Control) bool {
		for _, ev := range evs {
			if ev.Id == id {
				found = ev
				return true
			}
		}
		return false
	})
	return found
}

// count returns how many recorded events carry the id.
func (r *recorder) count(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, ev := range r.events {
		if ev.Id == id {
			n++
		}
	}
	return n
}

// Tenant and channel the suite uses for probes and barriers.
const (
	probeTenant  = "enginetest"
	probeChannel = "enginetest.probe"
)

// start runs e with a new recorder until the case ends and returns once
// events reach the recorder. Run takes effect asynchronously, so readiness
// is shown by publishing a probe until one arrives.
func start(t *testing.T, e engine.Engine) *recorder {
	t.Helper()
	r := newRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx, r) }()
	t.Cleanup(func() {
		cancel()
		if n := r.gaps.Load(); n > 0 {
			t.Errorf("the engine reported %d gaps while its delivery never broke", n)
		}
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, engine.ErrClosed) {
				t.Errorf("Run returned %v after its context ended, want nil", err)
			}
		case <-time.After(waitTimeout):
			t.Errorf("Run did not return after its context ended")
		}
	})

	tctx := ctxFor(t)
	if err := e.Subscribe(tctx, probeTenant, probeChannel); err != nil {
		t.Fatalf("Subscribe probe: %v", err)
	}
	deadline := time.Now().Add(waitTimeout)
	for {
		ev := &pb.Event{Tenant: probeTenant, Channel: probeChannel, Data: "null"}
		if _, err := e.Publish(tctx, ev, engine.HistoryOptions{}); err != nil {
			t.Fatalf("Publish probe: %v", err)
		}
		ready := r.waitFor(20*time.Millisecond, func(evs []*pb.Event, _ []*engine.Control) bool {
			for _, x := range evs {
				if x.Id == ev.Id {
					return true
				}
			}
			return false
		})
		if ready {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("engine delivered no probe event after Run started")
		}
	}
	if err := e.Unsubscribe(tctx, probeTenant, probeChannel); err != nil {
		t.Fatalf("Unsubscribe probe: %v", err)
	}
	return r
}

// barrier publishes an event on a channel this node subscribes to and
// waits for it, so that every event published before it that was going to
// be delivered has been.
func barrier(t *testing.T, e engine.Engine, r *recorder) {
	t.Helper()
	ctx := ctxFor(t)
	if err := e.Subscribe(ctx, probeTenant, probeChannel); err != nil {
		t.Fatalf("Subscribe barrier: %v", err)
	}
	ev := &pb.Event{Tenant: probeTenant, Channel: probeChannel, Data: "null"}
	if _, err := e.Publish(ctx, ev, engine.HistoryOptions{}); err != nil {
		t.Fatalf("Publish barrier: %v", err)
	}
	r.waitID(t, ev.Id)
	if err := e.Unsubscribe(ctx, probeTenant, probeChannel); err != nil {
		t.Fatalf("Unsubscribe barrier: %v", err)
	}
}
