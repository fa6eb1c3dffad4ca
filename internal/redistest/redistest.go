// Package redistest finds the Redis that tests use and gives each test a
// key prefix of its own.
package redistest

import (
	"context"
	"crypto/rand"
	"net"
	"os"
	"testing"
	"time"

	"github.com/redis/rueidis"
)

// Addr returns the test Redis: SWITCHBOARD_TEST_REDIS (host:port) or
// 127.0.0.1:6379. Without a reachable Redis the test is skipped, except in
// CI (CI=true), where .ci/run starts one and a missing Redis is a failure.
func Addr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv("SWITCHBOARD_TEST_REDIS")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		msg := "Redis at " + addr + " is unreachable (start redis-server or set SWITCHBOARD_TEST_REDIS=host:port): " + err.Error()
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	c.Close()
	return addr
}

// Prefix returns a fresh key prefix on the Redis at addr, so that tests
// (and runs) never see each other's keys, and deletes the keys under it
// ("<prefix>:*" and "<prefix>.*") when the test ends.
func Prefix(t testing.TB, addr string) string {
	t.Helper()
	prefix := "sbtest-" + rand.Text()[:12]
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
	for _, pattern := range []string{prefix + ":*", prefix + ".*"} {
		var cursor uint64
		for {
			e, err := c.Do(ctx, c.B().Scan().Cursor(cursor).Match(pattern).Count(1000).Build()).AsScanEntry()
			if err != nil {
				t.Logf("cleanup: %v", err)
				return
			}
			if len(e.Elements) > 0 {
				c.Do(ctx, c.B().Del().Key(e.Elements...).Build())
			}
			if e.Cursor == 0 {
				break
			}
			cursor = e.Cursor
		}
	}
}
