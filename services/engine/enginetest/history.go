package enginetest

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"testing"
	"time"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/services/engine"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// keepAll keeps every event of a case for longer than the case runs.
var keepAll = engine.HistoryOptions{Size: 1000, TTL: time.Hour}

var urlSafeID = regexp.MustCompile(`^[A-Za-z0-9_-]{16,}$`)

// publish publishes n events on the channel and returns their positions.
func publish(t *testing.T, e engine.Engine, tenant, channel string, n int, opts engine.HistoryOptions) []*pb.StreamPosition {
	t.Helper()
	ctx := ctxFor(t)
	var out []*pb.StreamPosition
	for i := 0; i < n; i++ {
		ev := &pb.Event{Tenant: tenant, Channel: channel, Name: "n", Data: fmt.Sprintf(`{"i":%d}`, i)}
		pos, err := e.Publish(ctx, ev, opts)
		if err != nil {
			t.Fatalf("Publish %q/%q: %v", tenant, channel, err)
		}
		out = append(out, pos)
	}
	return out
}

// offsets lists the offsets of events.
func offsets(evs []*pb.Event) []uint64 {
	out := make([]uint64, 0, len(evs))
	for _, ev := range evs {
		out = append(out, ev.Offset)
	}
	return out
}

// seq returns the offsets from lo to hi (descending when lo > hi).
func seq(lo, hi uint64) []uint64 {
	var out []uint64
	if lo <= hi {
		for o := lo; o <= hi; o++ {
			out = append(out, o)
		}
		return out
	}
	for o := lo; o >= hi; o-- {
		out = append(out, o)
	}
	return out
}

func testPublishAssignsPosition(t *testing.T, newEngine NewEngine) {
	e := newEngine(t)
	ctx := ctxFor(t)
	var epoch string
	for i := uint64(1); i <= 5; i++ {
		ev := &pb.Event{Tenant: "t1", Channel: "news", Name: "update", Data: `{"a":1}`}
		pos, err := e.Publish(ctx, ev, keepAll)
		if err != nil {
			t.Fatalf("Publish: %v", err)
		}
		if pos.Offset != i || ev.Offset != i {
			t.Fatalf("publish %d: position offset %d, event offset %d; want %d", i, pos.Offset, ev.Offset, i)
		}
		if pos.Epoch == "" || ev.Epoch != pos.Epoch {
			t.Fatalf("publish %d: position epoch %q, event epoch %q", i, pos.Epoch, ev.Epoch)
		}
		if epoch == "" {
			epoch = pos.Epoch
		} else if pos.Epoch != epoch {
			t.Fatalf("epoch changed from %q to %q within one stream", epoch, pos.Epoch)
		}
		if !urlSafeID.MatchString(ev.Id) {
			t.Fatalf("generated id %q is not a URL-safe id of 16+ characters", ev.Id)
		}
		if ev.Time == nil || ev.Time.AsTime().IsZero() {
			t.Fatalf("publish did not set the time")
		}
	}
	// Each channel of each tenant has its own stream.
	for _, k := range []chanKey{{"t1", "other"}, {"t2", "news"}, {"", "news"}} {
		pos := publish(t, e, k.tenant, k.channel, 1, keepAll)
		if pos[0].Offset != 1 {
			t.Fatalf("first publish on %q/%q got offset %d, want 1", k.tenant, k.channel, pos[0].Offset)
		}
	}
	// Ids are unique.
	a := &pb.Event{Tenant: "t1", Channel: "news"}
	b := &pb.Event{Tenant: "t1", Channel: "news"}
	for _, ev := range []*pb.Event{a, b} {
		if _, err := e.Publish(ctx, ev, keepAll); err != nil {
			t.Fatalf("Publish: %v", err)
		}
	}
	if a.Id == b.Id {
		t.Fatalf("two publishes got the same id %q", a.Id)
	}
}

func testPublishKeepsPresetIDAndTime(t *testing.T, newEngine NewEngine) {
	e := newEngine(t)
	ctx := ctxFor(t)
	when := timestamppb.New(time.Date(2020, 1, 2, 3, 4, 5, 6000, time.UTC))
	ev := &pb.Event{
		Id: "my-id", Tenant: "t", Channel: "c", Subject: "s", Name: "n", Key: "k", Code: 7,
		Kind: pb.EventKind_EVENT_KIND_JOIN, Data: `{"x":[1,2]}`, Previous: `{"x":[]}`,
		Publisher: &pb.Publisher{User: "u", Client: "cl", Info: `{"i":1}`}, Time: when,
	}
	if _, err := e.Publish(ctx, ev, keepAll); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if ev.Id != "my-id" || !ev.Time.AsTime().Equal(when.AsTime()) {
		t.Fatalf("preset id/time changed to %q/%v", ev.Id, ev.Time.AsTime())
	}
	evs, _, err := e.History(ctx, "t", "c", engine.HistoryQuery{})
	if err != nil || len(evs) != 1 {
		t.Fatalf("History: %d events, %v", len(evs), err)
	}
	if !equalEvent(evs[0], ev) {
		t.Fatalf("history event\n%v\nwant\n%v", evs[0], ev)
	}
}

func testPublishRejectsDirected(t *testing.T, newEngine NewEngine) {
	e := newEngine(t)
	ev := &pb.Event{Tenant: "t", Channel: "c", To: &pb.Recipient{User: "u"}}
	if _, err := e.Publish(ctxFor(t), ev, keepAll); err == nil {
		t.Fatalf("Publish of a directed event succeeded; directed events travel as control")
	}
}

func testHistoryDisabled(t *testing.T, newEngine NewEngine) {
	e := newEngine(t)
	ctx := ctxFor(t)
	for _, opts := range []engine.HistoryOptions{{}, {Size: 10}, {TTL: time.Hour}} {
		pos := publish(t, e, "t", "c", 2, opts)
		for _, p := range pos {
			if p.Offset != 0 || p.Epoch == "" {
				t.Fatalf("options %+v: position %v, want offset 0 and an epoch", opts, p)
			}
		}
		if pos[0].Epoch != pos[1].Epoch {
			t.Fatalf("epoch changed between publishes: %q, %q", pos[0].Epoch, pos[1].Epoch)
		}
		evs, top, err := e.History(ctx, "t", "c", engine.HistoryQuery{})
		if err != nil || len(evs) != 0 {
			t.Fatalf("History: %d events, %v; want none", len(evs), err)
		}
		if top.Offset != 0 || top.Epoch != pos[0].Epoch {
			t.Fatalf("top %v, want offset 0 epoch %q", top, pos[0].Epoch)
		}
	}
	// Turning history on continues the same stream.
	pos := publish(t, e, "t", "c", 1, keepAll)
	if pos[0].Offset != 1 {
		t.Fatalf("first kept event got offset %d, want 1", pos[0].Offset)
	}
}

func testHistorySizeCap(t *testing.T, newEngine NewEngine) {
	e := newEngine(t)
	ctx := ctxFor(t)
	publish(t, e, "t", "c", 10, engine.HistoryOptions{Size: 3, TTL: time.Hour})
	evs, top, err := e.History(ctx, "t", "c", engine.HistoryQuery{})
	if err != nil {
		t.Fatalf("History: %v", err)
	}
	if got, want := offsets(evs), seq(8, 10); !slices.Equal(got, want) {
		t.Fatalf("kept offsets %v, want %v", got, want)
	}
	if top.Offset != 10 {
		t.Fatalf("top offset %d, want 10", top.Offset)
	}
	for _, ev := range evs {
		if ev.Epoch != top.Epoch || ev.Data == "" {
			t.Fatalf("history event %v lacks epoch %q or data", ev, top.Epoch)
		}
	}
	// A smaller size takes effect on the next publish.
	publish(t, e, "t", "c", 1, engine.HistoryOptions{Size: 2, TTL: time.Hour})
	evs, _, err = e.History(ctx, "t", "c", engine.HistoryQuery{})
	if err != nil {
		t.Fatalf("History: %v", err)
	}
	if got, want := offsets(evs), seq(10, 11); !slices.Equal(got, want) {
		t.Fatalf("after shrinking, kept offsets %v, want %v", got, want)
	}
}

func testHistoryTTL(t *testing.T, newEngine NewEngine) {
	e := newEngine(t)
	ctx := ctxFor(t)
	short := engine.HistoryOptions{Size: 10, TTL: 50 * time.Millisecond}
	publish(t, e, "t", "c", 3, short)
	var top *pb.StreamPosition
	eventually(t, "short-lived events to expire", func() bool {
		evs, p, err := e.History(ctx, "t", "c", engine.HistoryQuery{})
		if err != nil {
			t.Fatalf("History: %v", err)
		}
		top = p
		return len(evs) == 0
	})
	if top.Offset != 3 || top.Epoch == "" {
		t.Fatalf("after expiry top is %v, want offset 3 and the epoch kept", top)
	}
	// The position reached before expiry still resumes (nothing missed)...
	evs, _, err := e.History(ctx, "t", "c", engine.HistoryQuery{Since: &pb.StreamPosition{Offset: 3, Epoch: top.Epoch}})
	if err != nil || len(evs) != 0 {
		t.Fatalf("History since top: %d events, %v; want none", len(evs), err)
	}
	// ...but an older one lost events.
	_, _, err = e.History(ctx, "t", "c", engine.HistoryQuery{Since: &pb.StreamPosition{Offset: 2, Epoch: top.Epoch}})
	if !errors.Is(err, engine.ErrPositionGone) {
		t.Fatalf("History since an expired event: %v, want ErrPositionGone", err)
	}

	// Expiry is per event: a short-lived event goes, a later long-lived one stays.
	publish(t, e, "t", "mixed", 1, short)
	publish(t, e, "t", "mixed", 1, keepAll)
	eventually(t, "the short-lived event to expire", func() bool {
		evs, _, err := e.History(ctx, "t", "mixed", engine.HistoryQuery{})
		if err != nil {
			t.Fatalf("History: %v", err)
		}
		return slices.Equal(offsets(evs), []uint64{2})
	})
}

func testHistoryQuery(t *testing.T, newEngine NewEngine) {
	e := newEngine(t)
	ctx := ctxFor(t)
	pos := publish(t, e, "t", "c", 10, keepAll)
	epoch := pos[0].Epoch
	since := func(o uint64) *pb.StreamPosition { return &pb.StreamPosition{Offset: o, Epoch: epoch} }
	cases := []struct {
		name string
		q    engine.HistoryQuery
		want []uint64
	}{
		{"all", engine.HistoryQuery{}, seq(1, 10)},
		{"limit", engine.HistoryQuery{Limit: 3}, seq(1, 3)},
		{"limit above count", engine.HistoryQuery{Limit: 50}, seq(1, 10)},
		{"reverse", engine.HistoryQuery{Reverse: true}, seq(10, 1)},
		{"reverse limit", engine.HistoryQuery{Reverse: true, Limit: 3}, seq(10, 8)},
		{"since zero", engine.HistoryQuery{Since: since(0)}, seq(1, 10)},
		{"since", engine.HistoryQuery{Since: since(4)}, seq(5, 10)},
		{"since limit", engine.HistoryQuery{Since: since(4), Limit: 2}, seq(5, 6)},
		{"since reverse", engine.HistoryQuery{Since: since(4), Reverse: true}, seq(10, 5)},
		{"since reverse limit", engine.HistoryQuery{Since: since(4), Reverse: true, Limit: 2}, seq(10, 9)},
		{"since top", engine.HistoryQuery{Since: since(10)}, nil},
		{"since top reverse", engine.HistoryQuery{Since: since(10), Reverse: true, Limit: 1}, nil},
		{"since one before top", engine.HistoryQuery{Since: since(9), Limit: 5}, seq(10, 10)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			evs, top, err := e.History(ctx, "t", "c", c.q)
			if err != nil {
				t.Fatalf("History: %v", err)
			}
			if got := offsets(evs); !slices.Equal(got, c.want) && !(len(got) == 0 && len(c.want) == 0) {
				t.Fatalf("offsets %v, want %v", got, c.want)
			}
			if top.Offset != 10 || top.Epoch != epoch {
				t.Fatalf("top %v, want 10/%q", top, epoch)
			}
		})
	}
}

func testHistoryPositionGone(t *testing.T, newEngine NewEngine) {
	e := newEngine(t)
	ctx := ctxFor(t)
	pos := publish(t, e, "t", "c", 10, engine.HistoryOptions{Size: 3, TTL: time.Hour}) // keeps 8, 9, 10
	epoch := pos[0].Epoch
	cases := []struct {
		name  string
		since *pb.StreamPosition
		gone  bool
		want  []uint64
	}{
		{"other epoch", &pb.StreamPosition{Offset: 9, Epoch: epoch + "x"}, true, nil},
		{"empty epoch", &pb.StreamPosition{Offset: 9}, true, nil},
		{"successor dropped", &pb.StreamPosition{Offset: 5, Epoch: epoch}, true, nil},
		{"zero with events dropped", &pb.StreamPosition{Offset: 0, Epoch: epoch}, true, nil},
		{"just before oldest kept", &pb.StreamPosition{Offset: 7, Epoch: epoch}, false, seq(8, 10)},
		{"oldest kept", &pb.StreamPosition{Offset: 8, Epoch: epoch}, false, seq(9, 10)},
		{"top", &pb.StreamPosition{Offset: 10, Epoch: epoch}, false, nil},
		{"beyond top", &pb.StreamPosition{Offset: 11, Epoch: epoch}, true, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			evs, _, err := e.History(ctx, "t", "c", engine.HistoryQuery{Since: c.since})
			if c.gone {
				if !errors.Is(err, engine.ErrPositionGone) {
					t.Fatalf("History since %v: %v, want ErrPositionGone", c.since, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("History since %v: %v", c.since, err)
			}
			if got := offsets(evs); !slices.Equal(got, c.want) && !(len(got) == 0 && len(c.want) == 0) {
				t.Fatalf("offsets %v, want %v", got, c.want)
			}
		})
	}
}

func testHistoryOfNewChannel(t *testing.T, newEngine NewEngine) {
	e := newEngine(t)
	ctx := ctxFor(t)
	evs, top, err := e.History(ctx, "t", "fresh", engine.HistoryQuery{})
	if err != nil || len(evs) != 0 {
		t.Fatalf("History of a new channel: %d events, %v", len(evs), err)
	}
	if top.Offset != 0 || top.Epoch == "" {
		t.Fatalf("top of a new channel %v, want offset 0 and an epoch", top)
	}
	// A reader that saw the empty channel resumes without a gap.
	pos := publish(t, e, "t", "fresh", 2, keepAll)
	if pos[0].Epoch != top.Epoch || pos[0].Offset != 1 {
		t.Fatalf("first publish got %v, want offset 1 epoch %q", pos[0], top.Epoch)
	}
	evs, _, err = e.History(ctx, "t", "fresh", engine.HistoryQuery{Since: top})
	if err != nil {
		t.Fatalf("History since the empty top: %v", err)
	}
	if got := offsets(evs); !slices.Equal(got, seq(1, 2)) {
		t.Fatalf("offsets %v, want [1 2]", got)
	}
}

func testHistoryNamesDoNotCollide(t *testing.T, newEngine NewEngine) {
	e := newEngine(t)
	ctx := ctxFor(t)
	// Pairs that a naive "tenant.channel" or "tenant:channel" key would merge.
	names := []chanKey{{"a.b", "c"}, {"a", "b.c"}, {"a:b", "c"}, {"a", "b:c"}, {"", "a.b.c"}, {"a*", "c"}, {"a", "*c"}, {"[a]", "?"}}
	for i, k := range names {
		publish(t, e, k.tenant, k.channel, i+1, keepAll)
	}
	for i, k := range names {
		evs, top, err := e.History(ctx, k.tenant, k.channel, engine.HistoryQuery{})
		if err != nil {
			t.Fatalf("History %q/%q: %v", k.tenant, k.channel, err)
		}
		if top.Offset != uint64(i+1) || len(evs) != i+1 {
			t.Fatalf("%q/%q: top %d with %d events, want %d", k.tenant, k.channel, top.Offset, len(evs), i+1)
		}
		for _, ev := range evs {
			if ev.Tenant != k.tenant || ev.Channel != k.channel {
				t.Fatalf("%q/%q holds an event of %q/%q", k.tenant, k.channel, ev.Tenant, ev.Channel)
			}
		}
	}
}
