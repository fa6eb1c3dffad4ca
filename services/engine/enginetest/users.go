package enginetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/services/engine"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func wantUserSessions(t *testing.T, e engine.Engine, tenant, user string, want int) {
	t.Helper()
	n, err := e.UserSessions(ctxFor(t), tenant, user)
	if err != nil {
		t.Fatalf("UserSessions: %v", err)
	}
	if n != want {
		t.Fatalf("UserSessions(%q, %q) = %d, want %d", tenant, user, n, want)
	}
}

func testUserSessions(t *testing.T, newEngine NewEngine) {
	e := newEngine(t)
	ctx := ctxFor(t)
	s1, s2, s3 := session("s1", "u1"), session("s2", "u1"), session("s3", "u2")
	// Adding s1 twice is one entry, and only the very first add is first.
	for i, c := range []struct {
		s     *pb.Session
		first bool
	}{{s1, true}, {s2, false}, {s3, true}, {s1, false}} {
		first, err := e.AddSession(ctx, c.s)
		if err != nil {
			t.Fatalf("AddSession: %v", err)
		}
		if first != c.first {
			t.Fatalf("add %d (%s of %s): first = %t, want %t", i, c.s.Id, c.s.User, first, c.first)
		}
	}
	wantUserSessions(t, e, "t", "u1", 2)
	wantUserSessions(t, e, "t", "u2", 1)
	wantUserSessions(t, e, "t", "nobody", 0)
	wantUserSessions(t, e, "other", "u1", 0)
	// Removing s1 twice: neither is last (s2 is left); removing s2 is.
	for i, c := range []struct {
		s    *pb.Session
		last bool
	}{{s1, false}, {s1, false}, {s2, true}, {s2, false}, {session("never", "u2"), false}} {
		last, err := e.RemoveSession(ctx, c.s)
		if err != nil {
			t.Fatalf("RemoveSession: %v", err)
		}
		if last != c.last {
			t.Fatalf("remove %d (%s of %s): last = %t, want %t", i, c.s.Id, c.s.User, last, c.last)
		}
	}
	wantUserSessions(t, e, "t", "u1", 0)
	wantUserSessions(t, e, "t", "u2", 1)
	// After the last one went, the next one is first again.
	if first, err := e.AddSession(ctx, s2); err != nil || !first {
		t.Fatalf("AddSession after the last was removed = %t, %v; want first", first, err)
	}
}

// testUserSessionsFirstLastOnce opens and closes sessions of one user from
// many goroutines at once: whatever the interleaving, the firsts and lasts
// alternate, starting with a first, and every last ends an online period.
func testUserSessionsFirstLastOnce(t *testing.T, newEngine NewEngine) {
	e := newEngine(t)
	const workers, rounds = 8, 20
	var mu sync.Mutex
	firsts, lasts := 0, 0
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := ctxFor(t)
			for i := 0; i < rounds; i++ {
				s := session(fmt.Sprintf("w%d-%d", w, i), "busy")
				first, err := e.AddSession(ctx, s)
				if err != nil {
					t.Errorf("AddSession: %v", err)
					return
				}
				mu.Lock()
				if first {
					firsts++
				}
				mu.Unlock()
				last, err := e.RemoveSession(ctx, s)
				if err != nil {
					t.Errorf("RemoveSession: %v", err)
					return
				}
				mu.Lock()
				if last {
					lasts++
				}
				if lasts > firsts {
					t.Errorf("%d lasts after %d firsts", lasts, firsts)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firsts == 0 || firsts != lasts {
		t.Fatalf("%d firsts and %d lasts, want the same number (at least one)", firsts, lasts)
	}
	wantUserSessions(t, e, "t", "busy", 0)
}

func testUserQueue(t *testing.T, newEngine NewEngine) {
	e := newEngine(t)
	ctx := ctxFor(t)
	var sent []*pb.Event
	for i := 0; i < 5; i++ {
		ev := &pb.Event{
			Id: fmt.Sprintf("e%d", i), Tenant: "t", Channel: "c", Data: fmt.Sprintf("%d", i),
			To: &pb.Recipient{User: "u"}, Time: timestamppb.Now(),
		}
		sent = append(sent, ev)
		if err := e.Enqueue(ctx, "t", "u", ev, 3); err != nil {
			t.Fatalf("Enqueue: %v", err)
		}
	}
	if err := e.Enqueue(ctx, "t", "other", sent[0], 3); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	got, err := e.Drain(ctx, "t", "u")
	if err != nil {
		t.Fatalf("Drain: %v", err)
	}
	if !slices.EqualFunc(got, sent[2:], func(a, b *pb.Event) bool { return proto.Equal(a, b) }) {
		t.Fatalf("Drain = %v, want the newest three %v", got, sent[2:])
	}
	if got, err := e.Drain(ctx, "t", "u"); err != nil || len(got) != 0 {
		t.Fatalf("second Drain = %d events, %v; want none", len(got), err)
	}
	if got, err := e.Drain(ctx, "t2", "u"); err != nil || len(got) != 0 {
		t.Fatalf("Drain of another tenant = %d events, %v; want none", len(got), err)
	}
	if got, err := e.Drain(ctx, "t", "other"); err != nil || len(got) != 1 || !proto.Equal(got[0], sent[0]) {
		t.Fatalf("Drain of the other user = %v, %v; want its one event", got, err)
	}
}

func testNodes(t *testing.T, newEngine NewEngine) {
	e := newEngine(t)
	ctx := ctxFor(t)
	n1 := &pb.NodeInfo{Id: "n1", Name: "host:1", Version: "v1", StartedAt: timestamppb.Now(), NumSessions: 3, UptimeSeconds: 9}
	n2 := &pb.NodeInfo{Id: "n2", Name: "host:2", NumChannels: 4}
	for _, n := range []*pb.NodeInfo{n1, n2} {
		if err := e.UpdateNode(ctx, n); err != nil {
			t.Fatalf("UpdateNode: %v", err)
		}
	}
	n1b := proto.CloneOf(n1)
	n1b.NumSessions = 7
	if err := e.UpdateNode(ctx, n1b); err != nil {
		t.Fatalf("UpdateNode: %v", err)
	}
	got, err := e.Nodes(ctx)
	if err != nil {
		t.Fatalf("Nodes: %v", err)
	}
	slices.SortFunc(got, func(a, b *pb.NodeInfo) int { return cmpString(a.Id, b.Id) })
	want := []*pb.NodeInfo{n1b, n2}
	if !slices.EqualFunc(got, want, func(a, b *pb.NodeInfo) bool { return proto.Equal(a, b) }) {
		t.Fatalf("Nodes = %v, want %v", got, want)
	}
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
