package nkservice_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-hub/switchboard/internal/app"
)

// TestPings: with ping_interval set, a logged-in connection gets core/ping
// at once and then at the interval, with the server's tids shared with
// events; an answered ping keeps it open, an unanswered one closes it.
func TestPings(t *testing.T) {
	s := start(t, func(c *app.Config) {
		c.NkService.PingInterval = app.Duration(100 * time.Millisecond)
		c.NkService.ReplyTimeout = app.Duration(500 * time.Millisecond)
	})
	c := dial(t, s)
	c.login(adminUser, adminPass, "pinged")
	c.expect(`{"class":"core","cmd":"ping","tid":1,"data":{"time":1}}`)
	c.raw(`{"result":"ok","tid":1}`)
	// An event takes the next server tid; pings go on with the ones after.
	c.ok("session", "send_event", map[string]any{"session_id": "pinged", "type": "t"})
	next := 2
	for got := 0; got < 3; {
		f := c.next()
		switch f {
		case fmt.Sprintf(`{"class":"core","cmd":"ping","tid":%d,"data":{"time":1}}`, next):
			c.raw(fmt.Sprintf(`{"result":"ok","tid":%d}`, next))
			got++
		case fmt.Sprintf(`{"class":"core","cmd":"event","tid":%d,"data":{"class":"core","subclass":"session_event","type":"t","obj_id":"pinged"}}`, next):
			c.raw(fmt.Sprintf(`{"result":"ok","tid":%d}`, next))
		default:
			t.Fatalf("frame %d: %s", next, f)
		}
		next++
	}
	// The client stops answering: the next ping closes the connection.
	if code := c.closed(); code != websocket.StatusPolicyViolation {
		t.Fatalf("close code %v", code)
	}

	// An ack gives a ping the ack time, as any server request.
	d := dial(t, s)
	d.login(adminUser, adminPass, "acking")
	d.expect(`{"class":"core","cmd":"ping","tid":1,"data":{"time":1}}`)
	d.raw(`{"ack":1}`)
	for tid := 2; tid < 10; tid++ {
		d.expect(fmt.Sprintf(`{"class":"core","cmd":"ping","tid":%d,"data":{"time":1}}`, tid))
		d.raw(fmt.Sprintf(`{"result":"ok","tid":%d}`, tid))
	}
	d.barrier() // still open, past the reply timeout of ping 1
}

// TestNoPingsByDefault: without ping_interval nothing is sent unasked.
func TestNoPingsByDefault(t *testing.T) {
	s := start(t, nil)
	c := dial(t, s)
	c.login(adminUser, adminPass, "quiet")
	c.barrier() // the next frame is the barrier's answer, not a ping
}

// TestIdleTimeout: a connection that neither sends nor is sent a frame for
// idle_timeout is closed (normal closure, "idle timeout"), logged in or
// not; traffic in either direction keeps it open.
func TestIdleTimeout(t *testing.T) {
	s := start(t, func(c *app.Config) {
		c.NkService.IdleTimeout = app.Duration(300 * time.Millisecond)
	})
	for _, login := range []bool{false, true} {
		c := dial(t, s)
		if login {
			c.login(adminUser, adminPass, "idle")
		}
		code, reason := c.closedWith()
		if code != websocket.StatusNormalClosure || reason != "idle timeout" {
			t.Fatalf("login %v: closed with %v %q", login, code, reason)
		}
	}

	// Pings every 50 ms, each answered: 20 of them span three idle
	// timeouts and the connection stays.
	p := start(t, func(c *app.Config) {
		c.NkService.IdleTimeout = app.Duration(300 * time.Millisecond)
		c.NkService.PingInterval = app.Duration(50 * time.Millisecond)
	})
	c := dial(t, p)
	c.login(adminUser, adminPass, "busy")
	for tid := 1; tid <= 20; tid++ {
		c.expect(fmt.Sprintf(`{"class":"core","cmd":"ping","tid":%d,"data":{"time":1}}`, tid))
		c.raw(fmt.Sprintf(`{"result":"ok","tid":%d}`, tid))
	}
	c.barrier()
}

// closedWith waits for the server's close and returns its code and reason.
func (c *client) closedWith() (websocket.StatusCode, string) {
	c.t.Helper()
	for {
		select {
		case _, ok := <-c.read:
			if !ok {
				err := <-c.err
				var ce websocket.CloseError
				if !errors.As(err, &ce) {
					c.t.Fatalf("connection ended without a close frame: %v", err)
				}
				return ce.Code, ce.Reason
			}
		case <-time.After(wait):
			c.t.Fatal("connection not closed")
		}
	}
}
