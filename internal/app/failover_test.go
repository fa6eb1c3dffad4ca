package app_test

import (
	"context"
	"net"
	"net/http"
	"os/exec"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/app"
	"github.com/switchboard-hub/switchboard/internal/app/apptest"
)

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRedisFailover: while Redis is gone the node says it is not ready
// (it would deliver nothing), and when Redis returns the node resubscribes
// by itself and live streams receive again.
func TestRedisFailover(t *testing.T) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not installed; the failover test runs its own")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, port, _ := net.SplitHostPort(addr)
	var redis *exec.Cmd
	start := func() {
		redis = exec.Command(bin, "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no")
		if err := redis.Start(); err != nil {
			t.Fatal(err)
		}
		eventually(t, "redis to listen", 10*time.Second, func() bool {
			c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
			if err == nil {
				c.Close()
			}
			return err == nil
		})
	}
	stop := func() { redis.Process.Kill(); redis.Wait() }
	start()
	t.Cleanup(func() { stop() })

	srv := apptest.Start(t, func(c *app.Config) { c.Engine = app.Engine{Type: "redis", Address: addr} })
	ready := func() int {
		r, err := http.Get(srv.HTTPURL + "/readyz")
		if err != nil {
			return 0
		}
		r.Body.Close()
		return r.StatusCode
	}
	if code := ready(); code != http.StatusOK {
		t.Fatalf("readyz = %d, want 200", code)
	}
	st, _ := subscribe(t, srv.Hub, &pb.SubscribeRequest{Filters: []*pb.Filter{{Channels: []string{"news"}}}})

	stop()
	eventually(t, "readyz to report the lost Redis", 10*time.Second, func() bool { return ready() == http.StatusServiceUnavailable })
	start()
	eventually(t, "readyz after Redis returned", 20*time.Second, func() bool { return ready() == http.StatusOK })

	// Redis lost the channel's epoch: the stream is told it may have missed
	// events (README "Operations"); a new one receives again.
	if s := streamErr(t, st); s.Code() != codes.DataLoss {
		t.Fatalf("stream across the restart ended with %v, want DATA_LOSS", s)
	}
	st, _ = subscribe(t, srv.Hub, &pb.SubscribeRequest{Filters: []*pb.Filter{{Channels: []string{"news"}}}})
	// Publishes may fail on stale pooled connections right after the restart.
	eventually(t, "a publish to go through", 10*time.Second, func() bool {
		_, err := srv.Hub.Publish(context.Background(), &pb.PublishRequest{Event: &pb.Event{Channel: "news", Data: `"back"`}})
		return err == nil
	})
	if got := next(t, st).GetEvent().GetData(); got != `"back"` {
		t.Fatalf("stream after failover got %s", got)
	}
}
