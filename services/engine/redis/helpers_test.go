package redis_test

import (
	"context"
	"testing"
	"time"

	"github.com/switchboard-hub/switchboard/internal/redistest"
	"github.com/switchboard-hub/switchboard/services/engine/redis"
)

// testPrefix returns a fresh key prefix on the test Redis (skipping the
// test without one) whose keys are deleted when the test ends.
func testPrefix(t testing.TB) string {
	t.Helper()
	return redistest.Prefix(t, redistest.Addr(t))
}

// newEngine starts an engine on the test Redis under prefix and closes it
// when the test ends.
func newEngine(t testing.TB, prefix string, opts redis.Options) *redis.Engine {
	t.Helper()
	opts.Address = redistest.Addr(t)
	opts.Prefix = prefix
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, err := redis.New(ctx, opts)
	if err != nil {
		t.Fatalf("redis.New: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// poll retries cond until it holds or a deadline passes; for state that
// changes with time (expiry, reconnection), where there is nothing to wait on.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
