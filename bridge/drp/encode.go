package drp

import (
	"encoding/json"
	"fmt"
	"time"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// ackType is the Type of the acknowledgement a socket gets for each
// register/deregister frame (drp.md §3.2). It is reserved: such events are
// per-connection replies and are never published (see events.go).
const ackType = "websocket"

// wireEvent is DRP's models.Event on the wire: all seven keys, always, in
// this order (drp.md §3.3, §6.6). A nil RawMessage is written as null.
type wireEvent struct {
	Time      string          `json:"Time"`
	Type      string          `json:"Type"`
	Action    string          `json:"Action"`
	Key       string          `json:"Key"`
	Principal string          `json:"Principal"`
	Object    json.RawMessage `json:"Object"`
	Original  json.RawMessage `json:"Original"`
}

// formatTime writes Go's RFC 3339 with nanoseconds (trailing zeros dropped),
// in UTC: what DRP's time.Time marshals to, with the zone every example in
// the docs shows.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// rawOrNull returns the JSON text as a RawMessage, nil (null) when empty.
func rawOrNull(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}

// encodeEvent is the face's fanout.Encoder: one text frame per event, built
// once per event per group and shared by every socket of the group.
// encoding/json writes the raw Object/Original compactly and escapes <, >
// and & in strings, as DRP's own json.Marshal does.
func encodeEvent(ev *pb.Event) ([]byte, error) {
	var t time.Time
	if ev.GetTime() != nil {
		t = ev.GetTime().AsTime()
	}
	b, err := json.Marshal(wireEvent{
		Time:      formatTime(t),
		Type:      ev.GetChannel(),
		Action:    ev.GetName(),
		Key:       ev.GetKey(),
		Principal: ev.GetPublisher().GetUser(),
		Object:    rawOrNull(ev.GetData()),
		Original:  rawOrNull(ev.GetPrevious()),
	})
	if err != nil {
		return nil, fmt.Errorf("drp: encode event %q: %w", ev.GetId(), err)
	}
	return b, nil
}

// encodeAck builds the acknowledgement of one register/deregister frame:
// Key is the filter text as sent (invalid UTF-8 becomes U+FFFD, as in DRP),
// Principal empty, Object and Original null.
func encodeAck(v Verb, filter string, now time.Time) ([]byte, error) {
	b, err := json.Marshal(wireEvent{
		Time:   formatTime(now),
		Type:   ackType,
		Action: v.String(),
		Key:    filter,
	})
	if err != nil {
		return nil, fmt.Errorf("drp: encode ack: %w", err)
	}
	return b, nil
}
