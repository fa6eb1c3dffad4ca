package bench

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
)

// drpFace opens Digital Rebar Provision event websockets (GET /api/v3/ws)
// that register "<channel>.*.*": every event of the channel, whatever its
// action and key. The server acknowledges a register once the subscription
// is live.
type drpFace struct {
	url    string
	header http.Header
}

// drpAck marks the acknowledgement event of a register frame.
var drpAck = []byte(`"Type":"websocket"`)

func newDRPFace(t *target, _ *Options) (face, error) {
	if t.adminUser == "" {
		return nil, fmt.Errorf("drp face: no admin account")
	}
	cred := base64.StdEncoding.EncodeToString([]byte(t.adminUser + ":" + t.adminPassword))
	return &drpFace{
		url:    t.wsURL + "/api/v3/ws",
		header: http.Header{"Authorization": {"Basic " + cred}},
	}, nil
}

func (f *drpFace) subscribe(ctx context.Context, channel string, t *tally) (*client, error) {
	c, err := dialWS(ctx, f.url, f.header)
	if err != nil {
		return nil, fmt.Errorf("drp dial: %w", err)
	}
	if err := c.write(ctx, "register "+channel+".*.*"); err != nil {
		c.conn.Close()
		return nil, fmt.Errorf("drp register: %w", err)
	}
	if err := c.readUntil(ctx, drpAck, t); err != nil {
		c.conn.Close()
		return nil, fmt.Errorf("drp ack: %w", err)
	}
	return c.start(t), nil
}

func (f *drpFace) close() {}
