package redis

import (
	"encoding/json"
	"errors"
	"fmt"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/services/engine"
	"google.golang.org/protobuf/proto"
)

// controlWire is a control order on the control channel: JSON for the
// order, the protobuf encoding for its event (base64 inside the JSON).
type controlWire struct {
	Kind    engine.ControlKind `json:"k"`
	Tenant  string             `json:"t,omitempty"`
	User    string             `json:"u,omitempty"`
	Channel string             `json:"c,omitempty"`
	Reason  string             `json:"r,omitempty"`
	Event   []byte             `json:"e,omitempty"`
	Session string             `json:"s,omitempty"`
	ReqID   string             `json:"i,omitempty"`
	ReqNode string             `json:"n,omitempty"`
	Payload []byte             `json:"p,omitempty"`
}

var errBadControl = errors.New("redis: malformed control order")

func encodeControl(c *engine.Control) ([]byte, error) {
	w := controlWire{Kind: c.Kind, Tenant: c.Tenant, User: c.User, Channel: c.Channel, Reason: c.Reason, Session: c.Session}
	if r := c.Request; r != nil {
		w.ReqID, w.ReqNode, w.Payload = r.ID, r.Node, r.Payload
	}
	if c.Event != nil {
		b, err := proto.Marshal(c.Event)
		if err != nil {
			return nil, failf("redis: encode control event: %w", err)
		}
		w.Event = b
	}
	b, err := json.Marshal(w)
	if err != nil {
		return nil, failf("redis: encode control: %w", err)
	}
	return b, nil
}

// decodeControl parses what encodeControl made; anything else is an error.
func decodeControl(b []byte) (*engine.Control, error) {
	var w controlWire
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("%w: %w", errBadControl, err)
	}
	switch w.Kind {
	case engine.ControlDisconnect, engine.ControlUnsubscribe, engine.ControlDeliver:
	case engine.ControlCommand, engine.ControlQuery, engine.ControlReply:
		if w.ReqID == "" {
			return nil, fmt.Errorf("%w: request without id", errBadControl)
		}
	default:
		return nil, fmt.Errorf("%w: kind %d", errBadControl, w.Kind)
	}
	c := &engine.Control{Kind: w.Kind, Tenant: w.Tenant, User: w.User, Channel: w.Channel, Reason: w.Reason, Session: w.Session}
	if w.ReqID != "" {
		c.Request = &engine.Request{ID: w.ReqID, Node: w.ReqNode, Payload: w.Payload}
	}
	if w.Event != nil {
		c.Event = &pb.Event{}
		if err := proto.Unmarshal(w.Event, c.Event); err != nil {
			return nil, fmt.Errorf("%w: event: %w", errBadControl, err)
		}
	}
	return c, nil
}
