package enginetest

import (
	"fmt"
	"sync"
	"testing"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/services/engine"
	"google.golang.org/protobuf/proto"
)

func equalEvent(a, b *pb.Event) bool { return proto.Equal(a, b) }

// publishOne publishes one event without history and returns it.
func publishOne(t *testing.T, e engine.Engine, tenant, channel string) *pb.Event {
	t.Helper()
	ev := &pb.Event{Tenant: tenant, Channel: channel, Name: "n", Data: `"x"`}
	if _, err := e.Publish(ctxFor(t), ev, engine.HistoryOptions{}); err != nil {
		t.Fatalf("Publish %q/%q: %v", tenant, channel, err)
	}
	return ev
}

func subscribe(t *testing.T, e engine.Engine, tenant, channel string) {
	t.Helper()
	if err := e.Subscribe(ctxFor(t), tenant, channel); err != nil {
		t.Fatalf("Subscribe %q/%q: %v", tenant, channel, err)
	}
}

func unsubscribe(t *testing.T, e engine.Engine, tenant, channel string) {
	t.Helper()
	if err := e.Unsubscribe(ctxFor(t), tenant, channel); err != nil {
		t.Fatalf("Unsubscribe %q/%q: %v", tenant, channel, err)
	}
}

// expect checks, after a barrier, how often each event was delivered.
func expect(t *testing.T, e engine.Engine, r *recorder, delivered, missed []*pb.Event) {
	t.Helper()
	for _, ev := range delivered {
		r.waitID(t, ev.Id)
	}
	barrier(t, e, r)
	for _, ev := range delivered {
		if n := r.count(ev.Id); n != 1 {
			t.Errorf("event on %q/%q delivered %d times, want once", ev.Tenant, ev.Channel, n)
		}
	}
	for _, ev := range missed {
		if n := r.count(ev.Id); n != 0 {
			t.Errorf("event on %q/%q delivered %d times, want never", ev.Tenant, ev.Channel, n)
		}
	}
}

func testSubscribeDelivers(t *testing.T, newEngine NewEngine) {
	e := newEngine(t)
	r := start(t, e)
	ctx := ctxFor(t)
	subscribe(t, e, "t", "c")
	ev := &pb.Event{
		Tenant: "t", Channel: "c", Subject: "s", Name: "n", Key: "k", Code: 3, Data: `{"a":"b"}`,
		Previous: `{}`, Publisher: &pb.Publisher{User: "u", Client: "x", Info: `{"i":1}`},
	}
	if _, err := e.Publish(ctx, ev, keepAll); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	got := r.waitID(t, ev.Id)
	if !equalEvent(got, ev) {
		t.Fatalf("delivered\n%v\nwant\n%v", got, ev)
	}
	other := publishOne(t, e, "t", "other")
	otherTenant := publishOne(t, e, "t2", "c")
	expect(t, e, r, nil, []*pb.Event{other, otherTenant})
	if err := e.Healthy(ctx); err != nil {
		t.Fatalf("Healthy while running: %v", err)
	}
}

func testSubscribeIsRefCounted(t *testing.T, newEngine NewEngine) {
	e := newEngine(t)
	r := start(t, e)
	subscribe(t, e, "t", "c")
	subscribe(t, e, "t", "c")
	a := publishOne(t, e, "t", "c")
	expect(t, e, r, []*pb.Event{a}, nil)
	unsubscribe(t, e, "t", "c")
	b := publishOne(t, e, "t", "c")
	expect(t, e, r, []*pb.Event{b}, nil)
	unsubscribe(t, e, "t", "c")
	c := publishOne(t, e, "t", "c")
	expect(t, e, r, nil, []*pb.Event{c})
	// An extra Unsubscribe is harmless and does not pre-empt a later Subscribe.
	unsubscribe(t, e, "t", "c")
	subscribe(t, e, "t", "c")
	d := publishOne(t, e, "t", "c")
	expect(t, e, r, []*pb.Event{d}, nil)
}

func testSubscribeWildcards(t *testing.T, newEngine NewEngine) {
	e := newEngine(t)
	r := start(t, e)
	if err := e.Subscribe(ctxFor(t), engine.AllTenants, "c"); err == nil {
		t.Errorf("Subscribe(AllTenants, %q) succeeded; all tenants go with all channels only", "c")
	}

	subscribe(t, e, "t1", engine.AllChannels)
	in1, in2 := publishOne(t, e, "t1", "x"), publishOne(t, e, "t1", "y.z")
	out := publishOne(t, e, "t2", "x")
	expect(t, e, r, []*pb.Event{in1, in2}, []*pb.Event{out})

	subscribe(t, e, engine.AllTenants, engine.AllChannels)
	all := []*pb.Event{publishOne(t, e, "t1", "x"), publishOne(t, e, "t2", "x"), publishOne(t, e, "", "x")}
	expect(t, e, r, all, nil)

	unsubscribe(t, e, engine.AllTenants, engine.AllChannels)
	stay, gone := publishOne(t, e, "t1", "z"), publishOne(t, e, "t2", "z")
	expect(t, e, r, []*pb.Event{stay}, []*pb.Event{gone})

	unsubscribe(t, e, "t1", engine.AllChannels)
	expect(t, e, r, nil, []*pb.Event{publishOne(t, e, "t1", "z")})
}

func testSubscribeWildcardOverlap(t *testing.T, newEngine NewEngine) {
	e := newEngine(t)
	r := start(t, e)
	subscribe(t, e, "t", "c")
	subscribe(t, e, "t", engine.AllChannels)
	subscribe(t, e, engine.AllTenants, engine.AllChannels)
	expect(t, e, r, []*pb.Event{publishOne(t, e, "t", "c")}, nil)
	unsubscribe(t, e, engine.AllTenants, engine.AllChannels)
	expect(t, e, r, []*pb.Event{publishOne(t, e, "t", "c")}, nil)
	unsubscribe(t, e, "t", engine.AllChannels)
	expect(t, e, r, []*pb.Event{publishOne(t, e, "t", "c")}, nil)
	subscribe(t, e, engine.AllTenants, engine.AllChannels)
	unsubscribe(t, e, "t", "c")
	expect(t, e, r, []*pb.Event{publishOne(t, e, "t", "c")}, nil)
}

func testSubscribeOddNames(t *testing.T, newEngine NewEngine) {
	e := newEngine(t)
	r := start(t, e)
	// Tenant-wide subscriptions must not leak into tenants whose names
	// merely look alike, whatever pattern syntax the engine uses inside.
	subscribe(t, e, "a", engine.AllChannels)
	subscribe(t, e, "t*", engine.AllChannels)
	subscribe(t, e, "[x]", "c*")
	subscribe(t, e, "q?", "\\")
	delivered := []*pb.Event{
		publishOne(t, e, "a", "b.c"),
		publishOne(t, e, "a", "*"),
		publishOne(t, e, "t*", "x"),
		publishOne(t, e, "[x]", "c*"),
		publishOne(t, e, "q?", "\\"),
	}
	missed := []*pb.Event{
		publishOne(t, e, "a.b", "c"),
		publishOne(t, e, "ab", "c"),
		publishOne(t, e, "", "a.b"),
		publishOne(t, e, "tx", "x"),
		publishOne(t, e, "t", "*.x"),
		publishOne(t, e, "[x]", "cc"),
		publishOne(t, e, "x", "c*"),
		publishOne(t, e, "qq", "\\"),
		publishOne(t, e, "q?", "x"),
	}
	expect(t, e, r, delivered, missed)
}

func testDeliveryOrderPerChannel(t *testing.T, newEngine NewEngine) {
	e := newEngine(t)
	r := start(t, e)
	const channels, perPublisher, publishersPerChannel = 4, 100, 2
	subscribe(t, e, "t", engine.AllChannels)
	var wg sync.WaitGroup
	for c := 0; c < channels; c++ {
		for p := 0; p < publishersPerChannel; p++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx := ctxFor(t)
				for i := 0; i < perPublisher; i++ {
					ev := &pb.Event{Tenant: "t", Channel: fmt.Sprintf("c%d", c), Data: "1"}
					if _, err := e.Publish(ctx, ev, keepAll); err != nil {
						t.Errorf("Publish: %v", err)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	for c := 0; c < channels; c++ {
		evs := r.waitCount(t, "t", fmt.Sprintf("c%d", c), perPublisher*publishersPerChannel)
		for i, ev := range evs {
			if ev.Offset != uint64(i+1) {
				t.Fatalf("channel c%d: delivery %d has offset %d; events must arrive in offset order", c, i, ev.Offset)
			}
		}
	}
	if r.overlap.Load() {
		t.Fatalf("the handler was called concurrently for one channel")
	}
}

func testControl(t *testing.T, newEngine NewEngine) {
	e := newEngine(t)
	r := start(t, e)
	ctx := ctxFor(t)
	directed := &pb.Event{Id: "d1", Tenant: "t", Channel: "c", Name: "n", Data: `{"x":1}`, To: &pb.Recipient{User: "u", Session: "s"}}
	orders := []*engine.Control{
		{Kind: engine.ControlDisconnect, Tenant: "t", User: "u", Reason: "bye"},
		{Kind: engine.ControlUnsubscribe, Tenant: "t", User: "u", Channel: "c"},
		{Kind: engine.ControlUnsubscribe, Tenant: "t", User: "u"},
		{Kind: engine.ControlDeliver, Tenant: "t", Event: directed},
	}
	for _, c := range orders {
		if err := e.PublishControl(ctx, c); err != nil {
			t.Fatalf("PublishControl: %v", err)
		}
	}
	r.wait(t, "control orders", func(_ []*pb.Event, ctls []*engine.Control) bool { return len(ctls) >= len(orders) })
	r.mu.Lock()
	got := append([]*engine.Control(nil), r.controls...)
	r.mu.Unlock()
	if len(got) != len(orders) {
		t.Fatalf("got %d orders, want %d", len(got), len(orders))
	}
	for i, want := range orders {
		g := got[i]
		if g.Kind != want.Kind || g.Tenant != want.Tenant || g.User != want.User || g.Channel != want.Channel || g.Reason != want.Reason {
			t.Errorf("order %d: got %+v, want %+v", i, g, want)
		}
		if (g.Event == nil) != (want.Event == nil) || (want.Event != nil && !equalEvent(g.Event, want.Event)) {
			t.Errorf("order %d: event %v, want %v", i, g.Event, want.Event)
		}
	}
}
