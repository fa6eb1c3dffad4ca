package nkservice_test

import (
	"bytes"
	"context"
	"encoding/json"

	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-hub/switchboard/internal/app"
	"github.com/switchboard-hub/switchboard/internal/app/apptest"
)

const (
	adminUser = "admin"
	adminPass = "admin_password"
	wait      = 10 * time.Second
)

func start(t *testing.T, tweak func(*app.Config)) *apptest.Server {
	t.Helper()
	return apptest.Start(t, func(c *app.Config) {
		c.Admins = []app.Admin{{Username: adminUser, Password: adminPass}}
		if tweak != nil {
			tweak(c)
		}
	})
}

// client is an NkSERVICE client speaking the exact wire format.
type client struct {
	t    *testing.T
	ws   *websocket.Conn
	tid  int
	read chan []byte
	err  chan error
	// stash holds event requests that arrived while ok waited for its
	// reply: an event the client caused may overtake the reply.
	stash []string
}

func dial(t *testing.T, s *apptest.Server) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, s.WSURL+"/nkservice/ws", nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	ws.SetReadLimit(1 << 20)
	c := &client{t: t, ws: ws, read: make(chan []byte, 256), err: make(chan error, 1)}
	go func() {
		for {
			_, b, err := ws.Read(context.Background())
			if err != nil {
				c.err <- err
				close(c.read)
				return
			}
			c.read <- b
		}
	}()
	t.Cleanup(func() { ws.CloseNow() })
	return c
}

// raw sends one text frame.
func (c *client) raw(frame string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// req sends a request with the next tid and returns the tid.
func (c *client) req(subclass, cmd string, data any) int {
	c.t.Helper()
	c.tid++
	m := map[string]any{"class": "core", "subclass": subclass, "cmd": cmd, "tid": c.tid}
	if data != nil {
		m["data"] = data
	}
	b, _ := json.Marshal(m)
	c.raw(string(b))
	return c.tid
}

// next returns the next frame (a stashed event first).
func (c *client) next() string {
	c.t.Helper()
	if len(c.stash) > 0 {
		f := c.stash[0]
		c.stash = c.stash[1:]
		return f
	}
	return c.readFrame()
}

// readFrame returns the next frame from the socket.
func (c *client) readFrame() string {
	c.t.Helper()
	select {
	case b, ok := <-c.read:
		if !ok {
			c.t.Fatalf("connection ended: %v", <-c.err)
		}
		return string(b)
	case <-time.After(wait):
		c.t.Fatal("no frame in time")
	}
	return ""
}

// expect reads the next frame and compares it with a golden frame.
func (c *client) expect(want string) {
	c.t.Helper()
	if got := c.next(); got != want {
		c.t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func jsonEqual(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}

// closed waits for the server to close the connection and returns the
// close status.
func (c *client) closed() websocket.StatusCode {
	c.t.Helper()
	for {
		select {
		case _, ok := <-c.read:
			if !ok {
				return websocket.CloseStatus(<-c.err)
			}
		case <-time.After(wait):
			c.t.Fatal("connection not closed")
		}
	}
}

// login logs in as an admin with the given session id.
func (c *client) login(user, pass, session string) {
	c.t.Helper()
	tid := c.req("user", "login", map[string]any{"user": user, "password": pass, "session_id": session})
	c.expect(fmt.Sprintf(`{"ack":%d}`, tid))
	c.expect(fmt.Sprintf(`{"result":"ok","tid":%d,"data":{"session_id":%q}}`, tid, session))
}

// ok sends a request and expects {"result":"ok","tid":T}; server
// requests (events, pings) that come first are kept for next and event.
func (c *client) ok(subclass, cmd string, data any) {
	c.t.Helper()
	tid := c.req(subclass, cmd, data)
	want := fmt.Sprintf(`{"result":"ok","tid":%d}`, tid)
	for {
		got := c.readFrame()
		if strings.HasPrefix(got, `{"class":`) {
			c.stash = append(c.stash, got)
			continue
		}
		if got != want {
			c.t.Fatalf("got  %s\nwant %s", got, want)
		}
		return
	}
}

// event reads the next frame as an event request, answers it and returns
// its data.
func (c *client) event() string {
	c.t.Helper()
	f := c.next()
	var ev struct {
		Class string          `json:"class"`
		Cmd   string          `json:"cmd"`
		TID   int             `json:"tid"`
		Data  json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal([]byte(f), &ev); err != nil || ev.Class != "core" || ev.Cmd != "event" || ev.TID == 0 {
		c.t.Fatalf("not an event request: %s", f)
	}
	if !strings.HasPrefix(f, fmt.Sprintf(`{"class":"core","cmd":"event","tid":%d,"data":`, ev.TID)) {
		c.t.Fatalf("event frame shape: %s", f)
	}
	c.raw(fmt.Sprintf(`{"result":"ok","tid":%d}`, ev.TID))
	return string(ev.Data)
}

// barrier proves no other frame is waiting: a get_subscriptions round trip
// must come next.
func (c *client) barrier() {
	c.t.Helper()
	tid := c.req("event", "get_subscriptions", nil)
	if got := c.next(); got != fmt.Sprintf(`{"ack":%d}`, tid) {
		c.t.Fatalf("unexpected frame before the barrier: %s", got)
	}
	if got := c.next(); !strings.HasPrefix(got, fmt.Sprintf(`{"result":"ok","tid":%d,`, tid)) {
		c.t.Fatalf("unexpected frame before the barrier: %s", got)
	}
}
