package enginetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/switchboard-hub/switchboard/services/engine"
)

// RunWebhooks runs the webhook-queue cases against stores made by newStore.
// Reopen, when not nil, closes a store and opens the same data again (a
// restart of the node); the durability case is skipped without it.
func RunWebhooks(t *testing.T, newStore func(t *testing.T) engine.Webhooks, reopen func(t *testing.T, s engine.Webhooks) engine.Webhooks) {
	t.Run("OrderAndAck", func(t *testing.T) { testWebhookOrderAndAck(t, newStore(t)) })
	t.Run("Bound", func(t *testing.T) { testWebhookBound(t, newStore(t)) })
	t.Run("Lease", func(t *testing.T) { testWebhookLease(t, newStore(t)) })
	t.Run("Remove", func(t *testing.T) { testWebhookRemove(t, newStore(t)) })
	t.Run("Durable", func(t *testing.T) {
		if reopen == nil {
			t.Skip("store cannot be reopened")
		}
		s := newStore(t)
		push(t, s, 0, "a", "1", "2")
		s = reopen(t, s)
		expectQueue(t, s, "a", "1", "2")
	})
}

func push(t *testing.T, s engine.Webhooks, max int, ep string, bodies ...string) map[string]int {
	t.Helper()
	items := make([]engine.WebhookPush, len(bodies))
	for i, b := range bodies {
		items[i] = engine.WebhookPush{Endpoint: ep, Body: []byte(b)}
	}
	dropped, err := s.WebhookPush(context.Background(), items, max)
	if err != nil {
		t.Fatal(err)
	}
	return dropped
}

// expectQueue drains the endpoint's queue and checks its bodies in order.
func expectQueue(t *testing.T, s engine.Webhooks, ep string, want ...string) {
	t.Helper()
	ctx := context.Background()
	if n, err := s.WebhookLen(ctx, ep); err != nil || n != len(want) {
		t.Fatalf("len(%s) = %d, %v; want %d", ep, n, err, len(want))
	}
	all, err := s.WebhookPeek(ctx, ep, len(want)+1)
	if err != nil || len(all) != len(want) {
		t.Fatalf("peek %s: %d items, %v; want %d", ep, len(all), err, len(want))
	}
	var last uint64
	for i, w := range want {
		// One at a time from the head, as a worker that acks each.
		head, err := s.WebhookPeek(ctx, ep, 1)
		if err != nil || len(head) != 1 {
			t.Fatalf("head %d of %s: %v, %v", i, ep, head, err)
		}
		it := head[0]
		if string(it.Body) != w || it.ID <= last || it.ID != all[i].ID || string(all[i].Body) != w {
			t.Fatalf("head %d of %s = %d %q, want %q after id %d", i, ep, it.ID, it.Body, w, last)
		}
		last = it.ID
		if err := s.WebhookAck(ctx, ep, it.ID); err != nil {
			t.Fatal(err)
		}
	}
	if rest, err := s.WebhookPeek(ctx, ep, 1); len(rest) != 0 || err != nil {
		t.Fatalf("%s not empty after draining: %v", ep, err)
	}
}

func testWebhookOrderAndAck(t *testing.T, s engine.Webhooks) {
	ctx := context.Background()
	items := []engine.WebhookPush{{Endpoint: "a", Body: []byte("1")}, {Endpoint: "b", Body: []byte("x:y")}, {Endpoint: "a", Body: []byte("2")}}
	if _, err := s.WebhookPush(ctx, items, 0); err != nil {
		t.Fatal(err)
	}
	head, _ := s.WebhookPeek(ctx, "a", 1)
	// Acking an id below the head changes nothing.
	if err := s.WebhookAck(ctx, "a", head[0].ID-1); err != nil {
		t.Fatal(err)
	}
	expectQueue(t, s, "a", "1", "2")
	// Acking through an id removes everything up to it.
	push(t, s, 0, "a", "3", "4", "5")
	mid, _ := s.WebhookPeek(ctx, "a", 2)
	if err := s.WebhookAck(ctx, "a", mid[1].ID); err != nil {
		t.Fatal(err)
	}
	expectQueue(t, s, "a", "5")
	expectQueue(t, s, "b", "x:y")
	// Acking again after the queue emptied is harmless.
	if err := s.WebhookAck(ctx, "a", head[0].ID); err != nil {
		t.Fatal(err)
	}
	expectQueue(t, s, "nobody")
}

func testWebhookBound(t *testing.T, s engine.Webhooks) {
	var bodies []string
	for i := range 5 {
		bodies = append(bodies, fmt.Sprint(i))
	}
	if d := push(t, s, 3, "a", bodies...); d["a"] != 2 {
		t.Fatalf("dropped %v, want a:2", d)
	}
	if d := push(t, s, 3, "a", "5"); d["a"] != 1 {
		t.Fatalf("dropped %v, want a:1", d)
	}
	expectQueue(t, s, "a", "3", "4", "5")
}

func testWebhookLease(t *testing.T, s engine.Webhooks) {
	ctx := context.Background()
	lease := func(owner string, ttl time.Duration) bool {
		ok, err := s.WebhookLease(ctx, "a", owner, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !lease("n1", time.Minute) {
		t.Fatal("owner could not take the lease")
	}
	if !lease("n1", time.Minute) {
		t.Fatal("owner could not renew its lease")
	}
	if lease("n2", time.Minute) {
		t.Fatal("a second owner took a held lease")
	}
	if err := s.WebhookRelease(ctx, "a", "n2"); err != nil {
		t.Fatal(err)
	}
	if lease("n2", time.Minute) {
		t.Fatal("a release by a non-owner freed the lease")
	}
	if err := s.WebhookRelease(ctx, "a", "n1"); err != nil {
		t.Fatal(err)
	}
	if !lease("n2", 50*time.Millisecond) {
		t.Fatal("released lease not taken")
	}
	// An expired lease goes to whoever asks.
	deadline := time.Now().Add(waitTimeout)
	for !lease("n1", time.Minute) {
		if time.Now().After(deadline) {
			t.Fatal("expired lease never handed over")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func testWebhookRemove(t *testing.T, s engine.Webhooks) {
	ctx := context.Background()
	push(t, s, 0, "a", "1")
	first, _ := s.WebhookPeek(ctx, "a", 1)
	if err := s.WebhookRemove(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	expectQueue(t, s, "a")
	push(t, s, 0, "a", "2")
	second, _ := s.WebhookPeek(ctx, "a", 1)
	if second[0].ID <= first[0].ID {
		t.Fatalf("id %d reused after remove (was %d)", second[0].ID, first[0].ID)
	}
	expectQueue(t, s, "a", "2")
}
