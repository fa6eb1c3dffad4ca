package enginetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/services/engine"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func session(id, user string) *pb.Session {
	return &pb.Session{
		Id: id, User: user, Tenant: "t", Face: "grpc", Client: "c-" + id, Info: `{"n":"` + id + `"}`,
		Node: "node-1", ConnectedAt: timestamppb.New(time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)),
	}
}

func addPresence(t *testing.T, e engine.Engine, tenant, channel string, s *pb.Session) {
	t.Helper()
	if err := e.AddPresence(ctxFor(t), tenant, channel, s); err != nil {
		t.Fatalf("AddPresence %q/%q %s: %v", tenant, channel, s.Id, err)
	}
}

func removePresence(t *testing.T, e engine.Engine, tenant, channel, id string) {
	t.Helper()
	if err := e.RemovePresence(ctxFor(t), tenant, channel, id); err != nil {
		t.Fatalf("RemovePresence %q/%q %s: %v", tenant, channel, id, err)
	}
}

func wantStats(t *testing.T, e engine.Engine, tenant, channel string, sessions, users int) {
	t.Helper()
	s, u, err := e.PresenceStats(ctxFor(t), tenant, channel)
	if err != nil {
		t.Fatalf("PresenceStats: %v", err)
	}
	if s != sessions || u != users {
		t.Fatalf("PresenceStats %q/%q = %d sessions, %d users; want %d, %d", tenant, channel, s, u, sessions, users)
	}
}

// wantPresence checks the sessions listed, in any order.
func wantPresence(t *testing.T, e engine.Engine, tenant, channel string, want ...*pb.Session) {
	t.Helper()
	got, err := e.Presence(ctxFor(t), tenant, channel)
	if err != nil {
		t.Fatalf("Presence: %v", err)
	}
	byID := func(a, b *pb.Session) int { return strings.Compare(a.Id, b.Id) }
	got = slices.Clone(got)
	want = slices.Clone(want)
	slices.SortFunc(got, byID)
	slices.SortFunc(want, byID)
	if !slices.EqualFunc(got, want, func(a, b *pb.Session) bool { return proto.Equal(a, b) }) {
		t.Fatalf("Presence %q/%q =\n%v\nwant\n%v", tenant, channel, got, want)
	}
}

func testPresence(t *testing.T, newEngine NewEngine) {
	e := newEngine(t)
	s1, s2, s3 := session("s1", "u1"), session("s2", "u1"), session("s3", "u2")
	wantStats(t, e, "t", "c", 0, 0)
	wantPresence(t, e, "t", "c")
	for _, s := range []*pb.Session{s1, s2, s3} {
		addPresence(t, e, "t", "c", s)
	}
	wantStats(t, e, "t", "c", 3, 2)
	wantPresence(t, e, "t", "c", s1, s2, s3)

	// Adding twice is one entry.
	addPresence(t, e, "t", "c", s1)
	wantStats(t, e, "t", "c", 3, 2)

	// An anonymous session counts as a session, not as a user.
	anon := session("s0", "")
	addPresence(t, e, "t", "c", anon)
	wantStats(t, e, "t", "c", 4, 2)
	removePresence(t, e, "t", "c", anon.Id)
	wantStats(t, e, "t", "c", 3, 2)

	// Re-adding under another user moves the session between users.
	s2moved := session("s2", "u3")
	addPresence(t, e, "t", "c", s2moved)
	wantStats(t, e, "t", "c", 3, 3)
	wantPresence(t, e, "t", "c", s1, s2moved, s3)

	// Same session id elsewhere is independent.
	addPresence(t, e, "t", "other", s1)
	addPresence(t, e, "t2", "c", s1)
	wantStats(t, e, "t", "other", 1, 1)
	wantStats(t, e, "t2", "c", 1, 1)

	removePresence(t, e, "t", "c", "s2")
	wantStats(t, e, "t", "c", 2, 2)
	removePresence(t, e, "t", "c", "s2")      // absent
	removePresence(t, e, "t", "nowhere", "x") // absent channel
	removePresence(t, e, "t", "c", "s1")
	removePresence(t, e, "t", "c", "s3")
	wantStats(t, e, "t", "c", 0, 0)
	wantPresence(t, e, "t", "c")
	wantStats(t, e, "t", "other", 1, 1)
}

// testPresenceClaim: ClaimPresence adds a new id, leaves an id already
// there as it was, and of concurrent claims of one id exactly one wins.
func testPresenceClaim(t *testing.T, newEngine NewEngine) {
	e := newEngine(t)
	ctx := ctxFor(t)
	claim := func(s *pb.Session) bool {
		t.Helper()
		ok, err := e.ClaimPresence(ctx, "t", "c", s)
		if err != nil {
			t.Fatalf("ClaimPresence %s: %v", s.Id, err)
		}
		return ok
	}
	s1 := session("s1", "u1")
	if !claim(s1) {
		t.Fatal("first claim refused")
	}
	if claim(session("s1", "u2")) {
		t.Fatal("second claim of s1 accepted")
	}
	wantPresence(t, e, "t", "c", s1)
	wantStats(t, e, "t", "c", 1, 1)
	// The id is free again once the entry is gone; other ids and channels
	// are independent.
	if !claim(session("s2", "u1")) {
		t.Fatal("claim of another id refused")
	}
	if ok, err := e.ClaimPresence(ctx, "t", "other", s1); err != nil || !ok {
		t.Fatalf("claim in another channel = %v, %v", ok, err)
	}
	removePresence(t, e, "t", "c", "s1")
	s1b := session("s1", "u3")
	if !claim(s1b) {
		t.Fatal("claim after remove refused")
	}
	wantPresence(t, e, "t", "c", s1b, session("s2", "u1"))

	const n = 8
	won := make(chan bool, n)
	for i := range n {
		go func() {
			ok, err := e.ClaimPresence(ctx, "t", "race", session("r", fmt.Sprint("u", i)))
			if err != nil {
				t.Errorf("ClaimPresence: %v", err)
			}
			won <- ok
		}()
	}
	wins := 0
	for range n {
		if <-won {
			wins++
		}
	}
	if wins != 1 {
		t.Fatalf("%d of %d concurrent claims won, want 1", wins, n)
	}
	wantStats(t, e, "t", "race", 1, 1)
}

func summaries(list []*pb.ChannelSummary) []string {
	var out []string
	for _, c := range list {
		out = append(out, c.Tenant+"/"+c.Channel+"="+string(rune('0'+c.NumSessions)))
	}
	return out
}

func testPresenceChannels(t *testing.T, newEngine NewEngine) {
	e := newEngine(t)
	ctx := ctxFor(t)
	put := map[chanKey]int{
		{"t1", "a"}: 2, {"t1", "b"}: 1, {"t1", "ba"}: 1, {"t2", "a"}: 1, {"", "z"}: 1,
		{"t1.x", "a"}: 1, {"t10", "a"}: 1,
	}
	n := 0
	for k, sessions := range put {
		for i := 0; i < sessions; i++ {
			n++
			addPresence(t, e, k.tenant, k.channel, session(string(rune('a'+n)), "u"))
		}
	}
	cases := []struct {
		name, tenant, prefix string
		limit                int
		want                 []string
	}{
		{"tenant", "t1", "", 0, []string{"t1/a=2", "t1/b=1", "t1/ba=1"}},
		{"prefix", "t1", "b", 0, []string{"t1/b=1", "t1/ba=1"}},
		{"limit", "t1", "", 2, []string{"t1/a=2", "t1/b=1"}},
		{"no match", "t1", "zz", 0, nil},
		{"unknown tenant", "t3", "", 0, nil},
		{"default tenant", "", "", 0, []string{"/z=1"}},
		{"all tenants", engine.AllTenants, "", 0, []string{"/z=1", "t1/a=2", "t1/b=1", "t1/ba=1", "t1.x/a=1", "t10/a=1", "t2/a=1"}},
		{"all tenants prefix", engine.AllTenants, "a", 0, []string{"t1/a=2", "t1.x/a=1", "t10/a=1", "t2/a=1"}},
		{"all tenants limit", engine.AllTenants, "a", 2, []string{"t1/a=2", "t1.x/a=1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := e.Channels(ctx, c.tenant, c.prefix, c.limit)
			if err != nil {
				t.Fatalf("Channels: %v", err)
			}
			if s := summaries(got); !slices.Equal(s, c.want) {
				t.Fatalf("Channels(%q, %q, %d) = %v, want %v", c.tenant, c.prefix, c.limit, s, c.want)
			}
		})
	}
	// A channel whose last session left is not listed.
	for _, s := range mustPresence(t, e, "t1", "b") {
		removePresence(t, e, "t1", "b", s.Id)
	}
	got, err := e.Channels(ctx, "t1", "", 0)
	if err != nil {
		t.Fatalf("Channels: %v", err)
	}
	if s, want := summaries(got), []string{"t1/a=2", "t1/ba=1"}; !slices.Equal(s, want) {
		t.Fatalf("after the last session left t1/b: %v, want %v", s, want)
	}
}

func mustPresence(t *testing.T, e engine.Engine, tenant, channel string) []*pb.Session {
	t.Helper()
	list, err := e.Presence(ctxFor(t), tenant, channel)
	if err != nil {
		t.Fatalf("Presence: %v", err)
	}
	return list
}
