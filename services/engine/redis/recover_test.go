package redis_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"
	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/redistest"
	"github.com/switchboard-hub/switchboard/services/engine"
	"github.com/switchboard-hub/switchboard/services/engine/redis"
)

// cutLink kills e's pub/sub connection and keeps it from reconnecting until
// the returned release is called; it returns once e knows the link is down.
func cutLink(t *testing.T, e *redis.Engine) (release func()) {
	t.Helper()
	ctx := context.Background()
	id := redis.LinkID(e)
	open := redis.HoldReconnect(e)
	var once sync.Once
	release = func() { once.Do(open) }
	t.Cleanup(release)
	admin, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{redistest.Addr(t)}, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.Do(ctx, admin.B().ClientKill().Id(id).Build()).Error(); err != nil {
		t.Fatalf("CLIENT KILL ID %d: %v", id, err)
	}
	poll(t, "the link to be reported down", func() bool { return e.Healthy(ctx) != nil })
	return release
}

// publishN publishes n events on the channel through e and returns them.
func publishN(t *testing.T, e engine.Engine, tenant, channel string, n int, opts engine.HistoryOptions) []*pb.Event {
	t.Helper()
	var out []*pb.Event
	for i := range n {
		ev := &pb.Event{Tenant: tenant, Channel: channel, Data: fmt.Sprint(i)}
		if _, err := e.Publish(context.Background(), ev, opts); err != nil {
			t.Fatalf("publish: %v", err)
		}
		out = append(out, ev)
	}
	return out
}

// expectEvents waits for exactly want, in order, and no gap before them.
func expectEvents(t *testing.T, h *handler, want []*pb.Event) {
	t.Helper()
	for i, w := range want {
		select {
		case ev := <-h.events:
			if ev.Id != w.Id || ev.Offset != w.Offset || ev.Epoch != w.Epoch {
				t.Fatalf("delivery %d: got id %s offset %d, want id %s offset %d", i, ev.Id, ev.Offset, w.Id, w.Offset)
			}
		case g := <-h.gaps:
			t.Fatalf("gap %+v reported before delivery %d", g, i)
		case <-time.After(10 * time.Second):
			t.Fatalf("delivery %d (offset %d) never came", i, w.Offset)
		}
	}
}

var kept = engine.HistoryOptions{Size: 100, TTL: time.Minute}

// TestRecoverFromHistory: events published while a node's link is down
// reach it from history once it is back, in order, before live ones, and
// the node refuses publishes while it is down.
func TestRecoverFromHistory(t *testing.T) {
	prefix := testPrefix(t)
	a, b := newEngine(t, prefix, redis.Options{}), newEngine(t, prefix, redis.Options{})
	h := run(t, b)
	ctx := context.Background()
	if err := b.Subscribe(ctx, "t", "c"); err != nil {
		t.Fatal(err)
	}
	if err := b.Subscribe(ctx, "t", "quiet"); err != nil {
		t.Fatal(err)
	}
	expectEvents(t, h, publishN(t, a, "t", "c", 3, kept))

	release := cutLink(t, b)
	if _, err := b.Publish(ctx, &pb.Event{Tenant: "t", Channel: "c", Data: "1"}, kept); !errors.Is(err, engine.ErrUnavailable) {
		t.Fatalf("publish on a node whose link is down = %v, want ErrUnavailable", err)
	}
	missed := publishN(t, a, "t", "c", 5, kept)
	missed = append(missed, publishN(t, a, "t", "quiet", 2, kept)...)
	release()
	// Both channels' missed events, each in order; channels may interleave.
	got := map[string][]*pb.Event{}
	for range missed {
		select {
		case ev := <-h.events:
			got[ev.Channel] = append(got[ev.Channel], ev)
		case g := <-h.gaps:
			t.Fatalf("gap %+v reported; history covered it", g)
		case <-time.After(10 * time.Second):
			t.Fatalf("missed events not recovered: got %v", got)
		}
	}
	for i, ev := range append(got["c"], got["quiet"]...) {
		if ev.Id != missed[i].Id {
			t.Fatalf("recovered event %d is %s offset %d, want %s offset %d", i, ev.Id, ev.Offset, missed[i].Id, missed[i].Offset)
		}
	}
	poll(t, "the link to be healthy", func() bool { return b.Healthy(ctx) == nil })
	if n := redis.Recovered(b); n != uint64(len(missed)) {
		t.Fatalf("Recovered = %d, want %d", n, len(missed))
	}
	expectEvents(t, h, publishN(t, a, "t", "c", 2, kept))
	expectEvents(t, h, publishN(t, b, "t", "c", 1, kept))
	select {
	case g := <-h.gaps:
		t.Fatalf("unexpected gap %+v", g)
	default:
	}
}

// TestGapReported: what history cannot give back is reported, with the
// positions, in order with the channel's events.
func TestGapReported(t *testing.T) {
	prefix := testPrefix(t)
	a, b := newEngine(t, prefix, redis.Options{}), newEngine(t, prefix, redis.Options{})
	h := run(t, b)
	ctx := context.Background()
	short := engine.HistoryOptions{Size: 2, TTL: time.Minute}
	for _, ch := range []string{"short", "none"} {
		if err := b.Subscribe(ctx, "t", ch); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Subscribe(ctx, "w", engine.AllChannels); err != nil {
		t.Fatal(err)
	}
	before := publishN(t, a, "t", "short", 3, short)
	expectEvents(t, h, before)
	quiet := publishN(t, a, "t", "none", 1, engine.HistoryOptions{})
	expectEvents(t, h, quiet)
	expectEvents(t, h, publishN(t, a, "w", "x", 1, short))

	release := cutLink(t, b)
	lost := publishN(t, a, "t", "short", 5, short)
	publishN(t, a, "t", "none", 1, engine.HistoryOptions{})
	publishN(t, a, "w", "y", 1, short)
	release()

	gaps := map[string]*engine.Gap{}
	for range 3 {
		select {
		case g := <-h.gaps:
			gaps[g.Tenant+"/"+g.Channel] = g
		case ev := <-h.events:
			t.Fatalf("event %s/%s offset %d delivered; want only gaps", ev.Tenant, ev.Channel, ev.Offset)
		case <-time.After(10 * time.Second):
			t.Fatalf("gaps reported: %v, want 3", gaps)
		}
	}
	last := before[len(before)-1]
	if g := gaps["t/short"]; g == nil || g.Unnumbered || g.From.GetOffset() != last.Offset || g.From.GetEpoch() != last.Epoch ||
		g.To.GetOffset() != lost[len(lost)-1].Offset {
		t.Fatalf("gap of the trimmed channel = %+v, want from %d to %d", g, last.Offset, lost[len(lost)-1].Offset)
	}
	if g := gaps["t/none"]; g == nil || !g.Unnumbered {
		t.Fatalf("gap of the channel without history = %+v, want an unnumbered one", g)
	}
	if g := gaps["w/*"]; g == nil {
		t.Fatalf("gap of the tenant pattern missing: %v", gaps)
	}
	// Live again, and the trimmed channel goes on from its new top: a
	// second break reports the channels that always need it (no history,
	// pattern), not the old gap again.
	expectEvents(t, h, publishN(t, a, "t", "short", 1, short))
	cutLink(t, b)()
	for range 2 {
		select {
		case g := <-h.gaps:
			if g.Tenant == "t" && g.Channel == "short" {
				t.Fatalf("second reconnection reported the old gap again: %+v", g)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("second reconnection reported no gap for the pattern and the channel without history")
		}
	}
	expectEvents(t, h, publishN(t, a, "t", "short", 1, short))
}
