package bench

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
)

// cometFace opens comet-server websockets as CometServerApi.js 4.x does
// (GET /ws/<positional params>, anonymous) subscribed to one pipe. A pipe
// subscription has no acknowledgement of its own; a user_data request sent
// after it answers once the subscription is live, since the server carries
// out one socket's commands in order.
type cometFace struct {
	base string
	next atomic.Int64 // uuid counter
}

var (
	cometServerInfo = []byte(`"serverInfo"`)
	cometSync       = []byte(`"marker":"bench-sync"`)
)

func newCometFace(t *target, _ *Options) (face, error) {
	return &cometFace{base: t.wsURL + "/ws/"}, nil
}

func (f *cometFace) subscribe(ctx context.Context, channel string, t *tally) (*client, error) {
	uuid := "bench" + strconv.FormatInt(f.next.Add(1), 10)
	c, err := dialWS(ctx, f.base+"sesion=undefined&myid=0&devid=0&v=4.08&uuid="+uuid+"&api=js", nil)
	if err != nil {
		return nil, fmt.Errorf("cppcomet dial: %w", err)
	}
	fail := func(what string, err error) (*client, error) {
		c.conn.Close()
		return nil, fmt.Errorf("cppcomet %s: %w", what, err)
	}
	// As CometServerApi.js does, the pipes are sent when the socket opens,
	// without waiting for serverInfo, which still comes first.
	if err := c.write(ctx, "subscription\n"+channel, "user_data\nbench-sync\n1"); err != nil {
		return fail("subscription", err)
	}
	if err := c.readUntil(ctx, cometServerInfo, t); err != nil {
		return fail("serverInfo", err)
	}
	if err := c.readUntil(ctx, cometSync, t); err != nil {
		return fail("sync", err)
	}
	return c.start(t), nil
}

func (f *cometFace) close() {}
