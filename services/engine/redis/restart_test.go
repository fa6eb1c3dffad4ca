package redis_test

import (
	"context"
	"errors"
	"net"
	"os/exec"
	"testing"
	"time"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/services/engine"
	"github.com/switchboard-hub/switchboard/services/engine/redis"
)

// privateRedis runs a throw-away redis-server on a free loopback port, so
// that a test may stop and restart it without disturbing anything else.
type privateRedis struct {
	t    *testing.T
	bin  string
	addr string
	cmd  *exec.Cmd
}

func startPrivateRedis(t *testing.T) *privateRedis {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not installed; the restart test needs its own server")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	r := &privateRedis{t: t, bin: bin, addr: addr}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *privateRedis) start() {
	r.t.Helper()
	_, port, _ := net.SplitHostPort(r.addr)
	r.cmd = exec.Command(r.bin, "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no")
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("start redis-server: %v", err)
	}
	poll(r.t, "the private redis-server to listen", func() bool {
		c, err := net.DialTimeout("tcp", r.addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

func (r *privateRedis) stop() {
	if r.cmd != nil && r.cmd.Process != nil {
		r.cmd.Process.Kill()
		r.cmd.Wait()
		r.cmd = nil
	}
}

// TestRedisRestart: the link reports itself down while Redis is gone,
// comes back with every subscription when Redis returns, and the channel
// starts a new epoch because the server lost its data.
func TestRedisRestart(t *testing.T) {
	srv := startPrivateRedis(t)
	ctx := context.Background()
	e, err := redis.New(ctx, redis.Options{Address: srv.addr, Prefix: "restart"})
	if err != nil {
		t.Fatalf("redis.New: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	h := run(t, e)
	if err := e.Subscribe(ctx, "t", "c"); err != nil {
		t.Fatal(err)
	}
	publishUntilDelivered(t, e, h, "t", "c")
	before, err := e.Publish(ctx, &pb.Event{Tenant: "t", Channel: "c"}, engine.HistoryOptions{Size: 10, TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}

	srv.stop()
	poll(t, "Healthy to report the lost server", func() bool { return e.Healthy(ctx) != nil })
	srv.start()
	poll(t, "Healthy after the server returned", func() bool { return e.Healthy(ctx) == nil })
	publishUntilDelivered(t, e, h, "t", "c")

	// Other pooled connections may still hold the dead server's socket and
	// fail once each; the answer that matters is the first real one.
	poll(t, "History since a position from before the restart to be ErrPositionGone", func() bool {
		_, _, err = e.History(ctx, "t", "c", engine.HistoryQuery{Since: before})
		if err != nil && !errors.Is(err, engine.ErrPositionGone) {
			t.Logf("History after restart: %v", err)
		}
		return errors.Is(err, engine.ErrPositionGone)
	})
}
