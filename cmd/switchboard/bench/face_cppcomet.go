package bench

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// cometFace opens comet-server websockets as CometServerApi.js 4.x does
// (GET /ws/<positional params>, anonymous) subscribed to one pipe. A pipe
// subscription has no acknowledgement of its own; a user_data request sent
// after it answers once the subscription is live, since the server carries
// out one socket's commands in order.
type cometFace struct {
	base string
	hc   *http.Client
	next atomic.Int64 // uuid counter
}

var (
	cometServerInfo = []byte(`"serverInfo"`)
	cometSync       = []byte(`"marker":"bench-sync"`)
)

func newCometFace(t *target, _ *Options) (face, error) {
	return &cometFace{base: t.wsURL + "/ws/", hc: wsHTTPClient()}, nil
}

func (f *cometFace) subscribe(ctx context.Context, channel string, t *tally) (*client, error) {
	uuid := "bench" + strconv.FormatInt(f.next.Add(1), 10)
	c, _, err := websocket.Dial(ctx, f.base+"sesion=undefined&myid=0&devid=0&v=4.08&uuid="+uuid+"&api=js", &websocket.DialOptions{HTTPClient: f.hc})
	if err != nil {
		return nil, fmt.Errorf("cppcomet dial: %w", err)
	}
	c.SetReadLimit(wsReadLimit)
	fail := func(what string, err error) (*client, error) {
		c.CloseNow()
		return nil, fmt.Errorf("cppcomet %s: %w", what, err)
	}
	if _, b, err := c.Read(ctx); err != nil {
		return fail("serverInfo", err)
	} else if !bytes.Contains(b, cometServerInfo) {
		return fail("serverInfo", fmt.Errorf("first frame %.80q", b))
	}
	if err := c.Write(ctx, websocket.MessageText, []byte("subscription\n"+channel)); err != nil {
		return fail("subscription", err)
	}
	if err := c.Write(ctx, websocket.MessageText, []byte("user_data\nbench-sync\n1")); err != nil {
		return fail("sync", err)
	}
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			return fail("sync", err)
		}
		if bytes.Contains(b, cometSync) {
			break
		}
		t.frame(b, time.Now())
	}
	return startWSReader(c, t), nil
}

func (f *cometFace) close() { f.hc.CloseIdleConnections() }
