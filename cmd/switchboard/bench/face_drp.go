package bench

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"time"

	"github.com/coder/websocket"
)

// drpFace opens Digital Rebar Provision event websockets (GET /api/v3/ws)
// that register "<channel>.*.*": every event of the channel, whatever its
// action and key. The server acknowledges a register once the subscription
// is live.
type drpFace struct {
	url    string
	header http.Header
	hc     *http.Client
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
		hc:     wsHTTPClient(),
	}, nil
}

func (f *drpFace) subscribe(ctx context.Context, channel string, t *tally) (*client, error) {
	c, _, err := websocket.Dial(ctx, f.url, &websocket.DialOptions{HTTPClient: f.hc, HTTPHeader: f.header})
	if err != nil {
		return nil, fmt.Errorf("drp dial: %w", err)
	}
	c.SetReadLimit(wsReadLimit)
	if err := c.Write(ctx, websocket.MessageText, []byte("register "+channel+".*.*")); err != nil {
		c.CloseNow()
		return nil, fmt.Errorf("drp register: %w", err)
	}
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			c.CloseNow()
			return nil, fmt.Errorf("drp ack: %w", err)
		}
		if bytes.Contains(b, drpAck) {
			break
		}
		t.frame(b, time.Now())
	}
	return startWSReader(c, t), nil
}

func (f *drpFace) close() { f.hc.CloseIdleConnections() }
