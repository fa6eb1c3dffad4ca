package redis_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/rueidis"
	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/redistest"
	"github.com/switchboard-hub/switchboard/services/engine"
	"github.com/switchboard-hub/switchboard/services/engine/redis"
	"google.golang.org/protobuf/proto"
)

// handler passes what an engine delivers into channels.
type handler struct {
	events   chan *pb.Event
	controls chan *engine.Control
	gaps     chan *engine.Gap
}

func (h *handler) HandleEvent(ev *pb.Event) { h.events <- ev }

func (h *handler) HandleControl(c *engine.Control) { h.controls <- c }

func (h *handler) HandleGap(g *engine.Gap) { h.gaps <- g }

// run runs e with a fresh handler until the test ends.
func run(t *testing.T, e engine.Engine) *handler {
	t.Helper()
	h := &handler{events: make(chan *pb.Event, 1000), controls: make(chan *engine.Control, 100), gaps: make(chan *engine.Gap, 100)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Run(ctx, h); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return h
}

// receive waits for an event with the given id, skipping others.
func receive(t *testing.T, h *handler, id string) *pb.Event {
	t.Helper()
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	for {
		select {
		case ev := <-h.events:
			if ev.Id == id {
				return ev
			}
		case <-timer.C:
			t.Fatalf("event %s not delivered", id)
		}
	}
}

// publishUntilDelivered publishes on the channel until h receives one of
// the events: Run and reconnections take effect asynchronously.
func publishUntilDelivered(t *testing.T, from engine.Engine, h *handler, tenant, channel string) *pb.Event {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		ev := &pb.Event{Tenant: tenant, Channel: channel, Data: "1"}
		if _, err := from.Publish(context.Background(), ev, engine.HistoryOptions{}); err != nil {
			t.Logf("publish: %v", err)
		}
		timer := time.NewTimer(50 * time.Millisecond)
	drain:
		for {
			select {
			case got := <-h.events:
				if got.Id == ev.Id {
					timer.Stop()
					return got
				}
			case <-timer.C:
				break drain
			}
		}
	}
	t.Fatalf("no event on %q/%q was delivered", tenant, channel)
	return nil
}

func TestTwoNodes(t *testing.T) {
	prefix := testPrefix(t)
	a := newEngine(t, prefix, redis.Options{})
	b := newEngine(t, prefix, redis.Options{})
	ha, hb := run(t, a), run(t, b)
	ctx := context.Background()

	// Events published on one node reach the other, in order, with history shared.
	if err := b.Subscribe(ctx, "t", "c"); err != nil {
		t.Fatal(err)
	}
	publishUntilDelivered(t, a, hb, "t", "c")
	opts := engine.HistoryOptions{Size: 10, TTL: time.Minute}
	var sent []*pb.Event
	for i := 0; i < 5; i++ {
		ev := &pb.Event{Tenant: "t", Channel: "c", Data: fmt.Sprint(i)}
		if _, err := a.Publish(ctx, ev, opts); err != nil {
			t.Fatal(err)
		}
		sent = append(sent, ev)
	}
	for _, want := range sent {
		if got := receive(t, hb, want.Id); !proto.Equal(got, want) {
			t.Fatalf("node b got %v, want %v", got, want)
		}
	}
	evs, top, err := b.History(ctx, "t", "c", engine.HistoryQuery{})
	if err != nil || len(evs) != 5 || top.Offset != 5 || top.Epoch != sent[0].Epoch {
		t.Fatalf("history from node b: %d events, top %v, %v", len(evs), top, err)
	}
	// Offsets stay one sequence whichever node publishes.
	pos, err := b.Publish(ctx, &pb.Event{Tenant: "t", Channel: "c"}, opts)
	if err != nil || pos.Offset != 6 || pos.Epoch != sent[0].Epoch {
		t.Fatalf("publish on node b: %v, %v; want offset 6 in the same epoch", pos, err)
	}

	// Presence and user sessions added on either node are seen from both.
	sa := &pb.Session{Id: "sa", User: "u1", Tenant: "t", Node: "a"}
	sb := &pb.Session{Id: "sb", User: "u1", Tenant: "t", Node: "b"}
	if err := a.AddPresence(ctx, "t", "room", sa); err != nil {
		t.Fatal(err)
	}
	if err := b.AddPresence(ctx, "t", "room", sb); err != nil {
		t.Fatal(err)
	}
	for _, e := range []*redis.Engine{a, b} {
		if s, u, err := e.PresenceStats(ctx, "t", "room"); err != nil || s != 2 || u != 1 {
			t.Fatalf("presence stats: %d sessions, %d users, %v; want 2, 1", s, u, err)
		}
		list, err := e.Presence(ctx, "t", "room")
		if err != nil || len(list) != 2 || !proto.Equal(list[0], sa) || !proto.Equal(list[1], sb) {
			t.Fatalf("presence: %v, %v", list, err)
		}
		chans, err := e.Channels(ctx, "t", "", 0)
		if err != nil || len(chans) != 1 || chans[0].Channel != "room" || chans[0].NumSessions != 2 {
			t.Fatalf("channels: %v, %v", chans, err)
		}
	}
	// The user's first session is first on whichever node it opens; the
	// second, on the other node, is not.
	for _, x := range []struct {
		e     *redis.Engine
		s     *pb.Session
		first bool
	}{{a, sa, true}, {b, sb, false}} {
		first, err := x.e.AddSession(ctx, x.s)
		if err != nil {
			t.Fatal(err)
		}
		if first != x.first {
			t.Fatalf("AddSession(%s) first = %t, want %t", x.s.Id, first, x.first)
		}
	}
	if n, err := a.UserSessions(ctx, "t", "u1"); err != nil || n != 2 {
		t.Fatalf("user sessions: %d, %v; want 2", n, err)
	}

	// Control orders reach every node, the publisher's included.
	ctl := &engine.Control{Kind: engine.ControlDisconnect, Tenant: "t", User: "u1", Reason: "bye"}
	if err := a.PublishControl(ctx, ctl); err != nil {
		t.Fatal(err)
	}
	for name, h := range map[string]*handler{"a": ha, "b": hb} {
		select {
		case got := <-h.controls:
			if got.Kind != ctl.Kind || got.User != "u1" || got.Reason != "bye" {
				t.Fatalf("node %s got %+v", name, got)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("node %s got no control order", name)
		}
	}

	// Both nodes are listed.
	for _, e := range []*redis.Engine{a, b} {
		if err := e.UpdateNode(ctx, &pb.NodeInfo{Id: fmt.Sprintf("%p", e)}); err != nil {
			t.Fatal(err)
		}
	}
	if list, err := b.Nodes(ctx); err != nil || len(list) != 2 {
		t.Fatalf("nodes: %v, %v; want two", list, err)
	}
}

// TestPresenceOfDeadNodeExpires: a node that stops (here: closes without
// removing anything) stops refreshing its entries, and the others see them
// go within the presence TTL.
func TestPresenceOfDeadNodeExpires(t *testing.T) {
	prefix := testPrefix(t)
	const ttl = 300 * time.Millisecond
	dying := newEngine(t, prefix, redis.Options{PresenceTTL: ttl})
	alive := newEngine(t, prefix, redis.Options{PresenceTTL: ttl})
	ctx := context.Background()
	s1 := &pb.Session{Id: "s1", User: "u", Tenant: "t"}
	s2 := &pb.Session{Id: "s2", User: "v", Tenant: "t"}
	if err := dying.AddPresence(ctx, "t", "c", s1); err != nil {
		t.Fatal(err)
	}
	if _, err := dying.AddSession(ctx, s1); err != nil {
		t.Fatal(err)
	}
	if err := alive.AddPresence(ctx, "t", "c", s2); err != nil {
		t.Fatal(err)
	}
	if s, u, err := alive.PresenceStats(ctx, "t", "c"); err != nil || s != 2 || u != 2 {
		t.Fatalf("stats before: %d, %d, %v", s, u, err)
	}
	// While the node lives, refreshes keep its entries beyond the TTL.
	time.Sleep(3 * ttl) // the claim is about time passing: nothing to wait on
	if s, _, err := alive.PresenceStats(ctx, "t", "c"); err != nil || s != 2 {
		t.Fatalf("a live node's entry expired: %d sessions, %v", s, err)
	}
	if n, err := alive.UserSessions(ctx, "t", "u"); err != nil || n != 1 {
		t.Fatalf("a live node's user session expired: %d, %v", n, err)
	}

	dying.Close()
	poll(t, "the dead node's presence to expire", func() bool {
		s, u, err := alive.PresenceStats(ctx, "t", "c")
		return err == nil && s == 1 && u == 1
	})
	if list, err := alive.Presence(ctx, "t", "c"); err != nil || len(list) != 1 || list[0].Id != "s2" {
		t.Fatalf("presence after expiry: %v, %v", list, err)
	}
	// The user session is a separate entry, added and refreshed after the
	// presence entry, so it may expire a little later: wait for it on its
	// own rather than assume it went with the presence entry.
	poll(t, "the dead node's user session to expire", func() bool {
		n, err := alive.UserSessions(ctx, "t", "u")
		return err == nil && n == 0
	})
	// The dead node's session no longer counts: the user's next one is first.
	if first, err := alive.AddSession(ctx, &pb.Session{Id: "s3", User: "u", Tenant: "t"}); err != nil || !first {
		t.Fatalf("AddSession after expiry = %t, %v; want first", first, err)
	}
	if err := alive.RemovePresence(ctx, "t", "c", "s2"); err != nil {
		t.Fatal(err)
	}
	if chans, err := alive.Channels(ctx, engine.AllTenants, "", 0); err != nil || len(chans) != 0 {
		t.Fatalf("channels after everyone left: %v, %v", chans, err)
	}
}

func TestNodesExpire(t *testing.T) {
	prefix := testPrefix(t)
	e := newEngine(t, prefix, redis.Options{NodeTTL: 200 * time.Millisecond})
	ctx := context.Background()
	if err := e.UpdateNode(ctx, &pb.NodeInfo{Id: "n1"}); err != nil {
		t.Fatal(err)
	}
	if list, err := e.Nodes(ctx); err != nil || len(list) != 1 {
		t.Fatalf("nodes: %v, %v", list, err)
	}
	poll(t, "the node to expire", func() bool {
		list, err := e.Nodes(ctx)
		return err == nil && len(list) == 0
	})
}

// TestLinkRecovers cuts the engine's pub/sub connection from the server
// side; the engine must reconnect and resubscribe by itself.
func TestLinkRecovers(t *testing.T) {
	prefix := testPrefix(t)
	e := newEngine(t, prefix, redis.Options{})
	other := newEngine(t, prefix, redis.Options{})
	h := run(t, e)
	ctx := context.Background()
	for _, sub := range [][2]string{{"t", "c"}, {"t2", engine.AllChannels}} {
		if err := e.Subscribe(ctx, sub[0], sub[1]); err != nil {
			t.Fatal(err)
		}
	}
	publishUntilDelivered(t, other, h, "t", "c")

	id := redis.LinkID(e)
	admin, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{redistest.Addr(t)}, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.Do(ctx, admin.B().ClientKill().Id(id).Build()).Error(); err != nil {
		t.Fatalf("CLIENT KILL ID %d: %v", id, err)
	}
	poll(t, "a new pub/sub connection", func() bool {
		n := redis.LinkID(e)
		return n != 0 && n != id && e.Healthy(ctx) == nil
	})
	publishUntilDelivered(t, other, h, "t", "c")
	publishUntilDelivered(t, other, h, "t2", "any")
	// The control subscription came back too.
	if err := other.PublishControl(ctx, &engine.Control{Kind: engine.ControlDisconnect, Tenant: "t", User: "u"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-h.controls:
	case <-time.After(10 * time.Second):
		t.Fatal("no control order after reconnecting")
	}
}
