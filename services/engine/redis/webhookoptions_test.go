package redis_test

import (
	"context"
	"testing"
	"time"

	"github.com/switchboard-hub/switchboard/internal/redistest"
	"github.com/switchboard-hub/switchboard/services/engine/redis"
)

// TestWebhookOptionsReachEveryNode: options stored through one engine are
// announced to another's watch, which is called again once its link comes
// back after the Redis server was restarted (a change may have been
// missed while it was down).
func TestWebhookOptionsReachEveryNode(t *testing.T) {
	srv := redistest.Start(t)
	open := func() *redis.Engine {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e, err := redis.New(ctx, redis.Options{Address: srv.Addr, Prefix: "whopt"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		return e
	}
	a, b := open(), open()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if got, err := b.WebhookOptionsLoad(ctx); got != nil || err != nil {
		t.Fatalf("load before any store: %q, %v", got, err)
	}
	calls := make(chan struct{}, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.WebhookOptionsWatch(ctx, func() { calls <- struct{}{} })
	}()
	called := func(what string) {
		t.Helper()
		select {
		case <-calls:
		case <-time.After(20 * time.Second):
			t.Fatalf("watch not called: %s", what)
		}
	}
	called("subscribed")
	if err := a.WebhookOptionsStore(ctx, []byte(`{"x":1}`)); err != nil {
		t.Fatal(err)
	}
	called("stored by the other node")
	if got, err := b.WebhookOptionsLoad(ctx); string(got) != `{"x":1}` || err != nil {
		t.Fatalf("load %q, %v", got, err)
	}
	for len(calls) > 0 {
		<-calls
	}
	srv.Kill()
	srv.Restart()
	called("subscribed again after the restart")
	cancel()
	<-done // the watch returns when its context ends
}
