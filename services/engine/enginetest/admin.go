package enginetest

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-hub/switchboard/services/engine"
)

func testAdminSessions(t *testing.T, newEngine NewEngine) {
	e := newEngine(t)
	ctx := ctxFor(t)
	now := time.Now().Truncate(time.Millisecond)
	live := engine.AdminSession{Username: "admin", Created: now, Expires: now.Add(time.Hour)}
	if err := e.PutAdminSession(ctx, "k1", live); err != nil {
		t.Fatalf("PutAdminSession: %v", err)
	}
	got, ok, err := e.AdminSession(ctx, "k1")
	if err != nil || !ok {
		t.Fatalf("AdminSession(k1) = %v, %v, %v; want the session", got, ok, err)
	}
	if got.Username != "admin" || !got.Expires.Equal(live.Expires) || !got.Created.Equal(live.Created) {
		t.Fatalf("AdminSession(k1) = %+v, want %+v", got, live)
	}
	if _, ok, err := e.AdminSession(ctx, "nope"); ok || err != nil {
		t.Fatalf("AdminSession(unknown) = %v, %v; want absent", ok, err)
	}

	// Expiry: a session whose time is up is gone without a delete.
	short := engine.AdminSession{Username: "admin", Created: now, Expires: time.Now().Add(50 * time.Millisecond)}
	if err := e.PutAdminSession(ctx, "k2", short); err != nil {
		t.Fatalf("PutAdminSession: %v", err)
	}
	eventually(t, "session k2 to expire", func() bool {
		_, ok, err := e.AdminSession(ctx, "k2")
		return err == nil && !ok
	})

	// Revocation.
	if gone, err := e.DeleteAdminSession(ctx, "k1"); err != nil || !gone {
		t.Fatalf("DeleteAdminSession(k1) = %v, %v; want true", gone, err)
	}
	if _, ok, _ := e.AdminSession(ctx, "k1"); ok {
		t.Fatal("k1 still live after DeleteAdminSession")
	}
	if gone, err := e.DeleteAdminSession(ctx, "k1"); err != nil || gone {
		t.Fatalf("second DeleteAdminSession(k1) = %v, %v; want false", gone, err)
	}
}

func testTOTPCodeOnce(t *testing.T, newEngine NewEngine) {
	e := newEngine(t)
	ctx := ctxFor(t)
	first, err := e.UseTOTPCode(ctx, "admin", "123456", time.Minute)
	if err != nil || !first {
		t.Fatalf("first UseTOTPCode = %v, %v; want true", first, err)
	}
	if again, err := e.UseTOTPCode(ctx, "admin", "123456", time.Minute); err != nil || again {
		t.Fatalf("replayed UseTOTPCode = %v, %v; want false", again, err)
	}
	// Another account, or another code, is unaffected; names cannot collide.
	for _, c := range [][2]string{{"other", "123456"}, {"admin", "654321"}, {"admin1", "23456"}} {
		if ok, err := e.UseTOTPCode(ctx, c[0], c[1], time.Minute); err != nil || !ok {
			t.Fatalf("UseTOTPCode(%q, %q) = %v, %v; want true", c[0], c[1], ok, err)
		}
	}
	// A marker lives ttl only.
	if ok, _ := e.UseTOTPCode(ctx, "short", "111111", 50*time.Millisecond); !ok {
		t.Fatal("first use of a short code refused")
	}
	eventually(t, "the used code to be forgotten", func() bool {
		ok, err := e.UseTOTPCode(ctx, "short", "111111", 50*time.Millisecond)
		return err == nil && ok
	})
	// Concurrent uses: exactly one wins.
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ok, err := e.UseTOTPCode(ctx, "race", "000000", time.Minute); err == nil && ok {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := wins.Load(); n != 1 {
		t.Fatalf("%d concurrent uses of one code succeeded, want 1", n)
	}
}
