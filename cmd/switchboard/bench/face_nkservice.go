package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// nkFace opens NkSERVICE websockets (GET /nkservice/ws): each logs in as
// the admin account and subscribes to the class named like the channel.
// Events are server requests, each answered with {"result":"ok","tid":N}
// as the protocol requires; the answer costs the client one write per
// event, as it does a real client.
type nkFace struct {
	url        string
	user, pass string
}

// nkEventPrefix starts every event request (the server's own encoding).
var nkEventPrefix = []byte(`{"class":"core","cmd":"event","tid":`)

func newNkFace(t *target, _ *Options) (face, error) {
	if t.adminUser == "" {
		return nil, fmt.Errorf("nkservice face: no admin account")
	}
	return &nkFace{url: t.wsURL + "/nkservice/ws", user: t.adminUser, pass: t.adminPassword}, nil
}

func (f *nkFace) subscribe(ctx context.Context, channel string, t *tally) (*client, error) {
	c, err := dialWS(ctx, f.url, nil)
	if err != nil {
		return nil, fmt.Errorf("nkservice dial: %w", err)
	}
	login, _ := json.Marshal(map[string]any{"class": "core", "subclass": "user", "cmd": "login", "tid": 1,
		"data": map[string]string{"user": f.user, "password": f.pass}})
	sub, _ := json.Marshal(map[string]any{"class": "core", "subclass": "event", "cmd": "subscribe", "tid": 2,
		"data": map[string]string{"class": channel}})
	if err := c.write(ctx, string(login), string(sub)); err != nil {
		c.conn.Close()
		return nil, fmt.Errorf("nkservice login: %w", err)
	}
	if err := c.readUntil(ctx, []byte(`{"result":"ok","tid":2}`), t); err != nil {
		c.conn.Close()
		return nil, fmt.Errorf("nkservice subscribe: %w", err)
	}
	cl := &client{done: make(chan struct{})}
	cl.stop = func() {
		t.stopping.Store(true)
		c.conn.Close()
	}
	go func() {
		defer close(cl.done)
		for {
			b, err := c.next()
			if err != nil {
				t.end(err)
				return
			}
			now := time.Now()
			tid, event, ok := nkTID(b)
			if ok {
				if err := c.write(context.Background(), `{"result":"ok","tid":`+strconv.FormatUint(tid, 10)+`}`); err != nil {
					t.end(err)
					return
				}
			}
			if ok && !event {
				continue // a ping: answered, not counted
			}
			t.frame(b, now)
		}
	}()
	return cl, nil
}

// nkPingPrefix starts the server's pings (nkservice.ping_interval).
var nkPingPrefix = []byte(`{"class":"core","cmd":"ping","tid":`)

// nkTID reads the tid of a server request the client must answer: an
// event (event true) or a ping.
func nkTID(b []byte) (tid uint64, event, ok bool) {
	var rest []byte
	switch {
	case bytes.HasPrefix(b, nkEventPrefix):
		rest, event = b[len(nkEventPrefix):], true
	case bytes.HasPrefix(b, nkPingPrefix):
		rest = b[len(nkPingPrefix):]
	default:
		return 0, false, false
	}
	i := bytes.IndexByte(rest, ',')
	if i < 0 {
		return 0, false, false
	}
	n, err := strconv.ParseUint(string(rest[:i]), 10, 64)
	return n, event, err == nil
}

func (f *nkFace) close() {}
