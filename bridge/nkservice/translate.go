package nkservice

import (
	"encoding/json"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// The mapping onto the canonical event (README, NkSERVICE table):
//
//	class    → channel
//	subclass → subject
//	type     → name
//	obj_id   → key
//	body     → data (a JSON object; absent is the JSON null)
//
// An NkSERVICE wildcard ("*" or the field omitted) is the empty field of an
// event and the empty list of a filter: the hub's rule (an empty filter
// field matches any value, a concrete one only itself) is nkservice's
// documented per-field rule (§6.2, §6.3).

// Wildcard is NkSERVICE's any-value.
const Wildcard = "*"

// Reserved class and subclasses of the automatic subscriptions (§2).
const (
	ClassCore            = "core"
	SubclassUserEvent    = "user_event"
	SubclassSessionEvent = "session_event"
	// typeUnrecognized is the session event naming data keys a command
	// did not know (§3.2).
	typeUnrecognized = "unrecognized_fields"
)

// Sub is one subscription, or the address of one event. Empty fields are
// wildcards; Class is never empty.
type Sub struct {
	Class, Subclass, Type, ObjID string
	// Body is merged into delivered events (subscriptions only); nil when none.
	Body json.RawMessage
}

// norm turns "*" into the empty wildcard.
func norm(s string) string {
	if s == Wildcard {
		return ""
	}
	return s
}

// Key identifies a subscription: every field but the body (§6.6).
func (s Sub) Key() [4]string { return [4]string{s.Class, s.Subclass, s.Type, s.ObjID} }

// Filter is the canonical filter of a subscription.
func (s Sub) Filter() *pb.Filter {
	f := &pb.Filter{Channels: []string{s.Class}}
	if s.Subclass != "" {
		f.Subjects = []string{s.Subclass}
	}
	if s.Type != "" {
		f.Names = []string{s.Type}
	}
	if s.ObjID != "" {
		f.Keys = []string{s.ObjID}
	}
	return f
}

// Matches applies the per-field rule to an event.
func (s Sub) Matches(ev *pb.Event) bool {
	return ev.GetChannel() == s.Class &&
		(s.Subclass == "" || s.Subclass == ev.GetSubject()) &&
		(s.Type == "" || s.Type == ev.GetName()) &&
		(s.ObjID == "" || s.ObjID == ev.GetKey())
}

// ToEvent builds the canonical event for an event/send, user/send_event or
// session/send_event. A missing body is the JSON null.
func ToEvent(addr Sub, body json.RawMessage) *pb.Event {
	ev := &pb.Event{Channel: addr.Class, Subject: addr.Subclass, Name: addr.Type, Key: addr.ObjID, Data: "null"}
	if len(body) > 0 {
		ev.Data = string(body)
	}
	return ev
}

// eventData is the data object of a delivered event (§3.3): wildcard
// fields omitted, body only when it is a non-empty object.
type eventData struct {
	Class    string          `json:"class"`
	Subclass string          `json:"subclass,omitempty"`
	Type     string          `json:"type,omitempty"`
	ObjID    string          `json:"obj_id,omitempty"`
	Body     json.RawMessage `json:"body,omitempty"`
}

// FromEvent maps a canonical event back; body is the event's data when it
// is a non-empty object, else nil.
func FromEvent(ev *pb.Event) (Sub, json.RawMessage) {
	addr := Sub{Class: ev.GetChannel(), Subclass: ev.GetSubject(), Type: ev.GetName(), ObjID: ev.GetKey()}
	return addr, objectBody(json.RawMessage(ev.GetData()))
}

// objectBody returns b when it is a JSON object with at least one key.
func objectBody(b json.RawMessage) json.RawMessage {
	var m map[string]json.RawMessage
	if len(b) == 0 || b[0] != '{' || json.Unmarshal(b, &m) != nil || len(m) == 0 {
		return nil
	}
	return b
}

// MergeBody merges a subscription body into an event body (§6.5): both
// objects → their union, the event's keys winning; an event body that is
// no object → the subscription's body.
func MergeBody(sub, ev json.RawMessage) json.RawMessage {
	if len(sub) == 0 {
		return ev
	}
	if len(ev) == 0 {
		return sub
	}
	var a, b map[string]json.RawMessage
	if json.Unmarshal(sub, &a) != nil || json.Unmarshal(ev, &b) != nil {
		return ev
	}
	for k, v := range b {
		a[k] = v
	}
	out, err := json.Marshal(a)
	if err != nil {
		return ev
	}
	return out
}
