package redis_test

import (
	"context"
	"crypto/rand"
	"net"
	"os"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/switchboard-hub/switchboard/services/engine/redis"
)

// testAddr is the Redis the tests use: SWITCHBOARD_TEST_REDIS or the
// default local one.
func testAddr() string {
	if a := os.Getenv("SWITCHBOARD_TEST_REDIS"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

// needRedis skips the test when Redis is unreachable, except in CI
// (CI=true), where a missing Redis is a failure.
func needRedis(t testing.TB) string {
	t.Helper()
	addr := testAddr()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		msg := "Redis at " + addr + " is unreachable (set SWITCHBOARD_TEST_REDIS to use another): " + err.Error()
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	c.Close()
	return addr
}

// testPrefix returns a fresh key prefix, so that tests (and runs) never
// see each other's keys, and deletes its keys when the test ends.
func testPrefix(t testing.TB) string {
	t.Helper()
	prefix := "sbtest-" + rand.Text()[:12]
	addr := needRedis(t)
	t.Cleanup(func() { deleteKeys(t, addr, prefix) })
	return prefix
}

func deleteKeys(t testing.TB, addr, prefix string) {
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
	if err != nil {
		t.Logf("cleanup: %v", err)
		return
	}
	defer c.Close()
	ctx := context.Background()
	var cursor uint64
	for {
		e, err := c.Do(ctx, c.B().Scan().Cursor(cursor).Match(prefix+":*").Count(1000).Build()).AsScanEntry()
		if err != nil {
			t.Logf("cleanup: %v", err)
			return
		}
		if len(e.Elements) > 0 {
			c.Do(ctx, c.B().Del().Key(e.Elements...).Build())
		}
		if e.Cursor == 0 {
			return
		}
		cursor = e.Cursor
	}
}

// newEngine starts an engine on the test Redis under prefix and closes it
// when the test ends.
func newEngine(t testing.TB, prefix string, opts redis.Options) *redis.Engine {
	t.Helper()
	opts.Address = needRedis(t)
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
