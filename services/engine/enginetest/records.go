package enginetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-hub/switchboard/services/engine"
)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// testRecordsPerTenantAndUser: each field of a record is set, read and
// deleted on its own, and tenants and users never share a record, however
// their names run together.
func testRecordsPerTenantAndUser(t *testing.T, newEngine NewEngine) {
	e, ctx := newEngine(t), ctxFor(t)
	must(t, e.SetAuthHash(ctx, "", "1", "h-default"))
	must(t, e.SetAuthHash(ctx, "7", "1", "h-dev7"))
	must(t, e.SetUserData(ctx, "7", "1", "data"))
	for _, c := range []struct{ tenant, user, hash, data string }{
		{"", "1", "h-default", ""}, {"7", "1", "h-dev7", "data"}, {"7", "2", "", ""}, {"71", "", "", ""},
	} {
		h, err := e.AuthHash(ctx, c.tenant, c.user)
		must(t, err)
		d, err := e.UserData(ctx, c.tenant, c.user)
		must(t, err)
		if h != c.hash || d != c.data {
			t.Errorf("(%q, %q): hash %q data %q, want %q %q", c.tenant, c.user, h, d, c.hash, c.data)
		}
	}
	must(t, e.SetAuthHash(ctx, "7", "1", ""))
	if h, err := e.AuthHash(ctx, "7", "1"); err != nil || h != "" {
		t.Errorf("hash after delete = %q, %v", h, err)
	}
	if d, err := e.UserData(ctx, "7", "1"); err != nil || d != "data" {
		t.Errorf("deleting the hash took the data: %q, %v", d, err)
	}
	must(t, e.SetUserData(ctx, "7", "1", ""))
	if d, err := e.UserData(ctx, "7", "1"); err != nil || d != "" {
		t.Errorf("data after delete = %q, %v", d, err)
	}
}

func testRecordsLastSeen(t *testing.T, newEngine NewEngine) {
	e, ctx := newEngine(t), ctxFor(t)
	if _, ok, err := e.LastSeen(ctx, "", "1"); ok || err != nil {
		t.Fatalf("never seen: ok %v err %v", ok, err)
	}
	later := time.UnixMilli(200_000)
	must(t, e.SetLastSeen(ctx, "", "1", later))
	must(t, e.SetLastSeen(ctx, "", "1", time.UnixMilli(100_000)))
	got, ok, err := e.LastSeen(ctx, "", "1")
	if err != nil || !ok || !got.Equal(later) {
		t.Fatalf("last seen = %v %v %v, want %v (it must never move back)", got, ok, err, later)
	}
	// Kept to the millisecond by every engine.
	must(t, e.SetLastSeen(ctx, "", "1", time.UnixMilli(300_000).Add(999*time.Microsecond)))
	if got, _, _ := e.LastSeen(ctx, "", "1"); !got.Equal(time.UnixMilli(300_000)) {
		t.Fatalf("last seen = %v, want %v", got, time.UnixMilli(300_000))
	}
	if _, ok, _ := e.LastSeen(ctx, "x", "1"); ok {
		t.Fatal("another tenant's user was seen")
	}
}

func testRecordsAddAuthHash(t *testing.T, newEngine NewEngine) {
	e, ctx := newEngine(t), ctxFor(t)
	const n = 8
	results := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			h, err := e.AddAuthHash(ctx, "t", "u", string(rune('a'+i)))
			if err != nil {
				t.Error(err)
			}
			results[i] = h
		})
	}
	wg.Wait()
	for _, h := range results {
		if h != results[0] || h == "" {
			t.Fatalf("concurrent AddAuthHash disagree: %v", results)
		}
	}
	if stored, err := e.AuthHash(ctx, "t", "u"); err != nil || stored != results[0] {
		t.Fatalf("stored %q, want %q", stored, results[0])
	}
	if _, err := e.AddAuthHash(ctx, "t", "v", ""); err == nil {
		t.Fatal("AddAuthHash with an empty hash: nil error")
	}
}

func testRecordsClosed(t *testing.T, newEngine NewEngine) {
	e, ctx := newEngine(t), ctxFor(t)
	must(t, e.Close())
	calls := map[string]error{
		"SetAuthHash": e.SetAuthHash(ctx, "t", "u", "h"),
		"SetUserData": e.SetUserData(ctx, "t", "u", "d"),
		"SetLastSeen": e.SetLastSeen(ctx, "t", "u", time.Now()),
	}
	_, calls["AuthHash"] = e.AuthHash(ctx, "t", "u")
	_, calls["AddAuthHash"] = e.AddAuthHash(ctx, "t", "u", "h")
	_, calls["UserData"] = e.UserData(ctx, "t", "u")
	_, _, calls["LastSeen"] = e.LastSeen(ctx, "t", "u")
	for name, err := range calls {
		if !errors.Is(err, engine.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}
