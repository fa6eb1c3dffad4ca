package nkservice

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
)

// Kind tells the three envelopes apart (nkservice.md §3.1).
type Kind uint8

// Envelope kinds.
const (
	KindRequest Kind = iota + 1 // {class, subclass?, cmd, data?, tid}
	KindReply                   // {result, tid, data?}
	KindAck                     // {ack: tid}
)

// Limits of what a client may send.
const (
	// DefaultReadLimit is the largest frame (nkservice itself had none).
	DefaultReadLimit = 256 << 10
	// maxTIDBytes bounds a client tid: a number or a string.
	maxTIDBytes = 128
	// maxNameBytes bounds class, subclass and cmd.
	maxNameBytes = 256
)

// Frame is one decoded client frame.
type Frame struct {
	Kind     Kind
	Class    string
	Subclass string // "core" when omitted
	Cmd      string
	// Data is the request's data object ({} when omitted), or a reply's data
	// (nil when omitted).
	Data json.RawMessage
	// TID is the tid as sent (a JSON number or string), echoed unchanged.
	TID json.RawMessage
	// Result of a reply: "ok", "error" or anything else the client sent.
	Result string
}

// Parse errors. A frame that is not JSON, or no envelope, is fatal for the
// connection (§3.1); a request with a bad field is answered.
var (
	ErrNotJSON     = errors.New("nkservice: frame is not a JSON object")
	ErrNoEnvelope  = errors.New("nkservice: frame is no request, reply or ack")
	ErrBadTID      = errors.New("nkservice: tid is not a number or a string")
	ErrBadRequest  = errors.New("nkservice: malformed request")
	emptyObject    = json.RawMessage(`{}`)
	defaultSubject = "core"
)

// RequestError is a request whose tid is known but whose other fields are
// wrong: it is answered with a syntax error under that tid.
type RequestError struct {
	TID json.RawMessage
	Msg string
}

func (e *RequestError) Error() string { return "nkservice: request: " + e.Msg }
func (e *RequestError) Unwrap() error { return ErrBadRequest }

// Parse decodes one client frame. Keys are case-sensitive, as in nkservice
// (§6.10); unknown top-level keys are ignored.
func Parse(b []byte) (Frame, error) {
	if f, ok := parseOK(b); ok {
		return f, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return Frame{}, ErrNotJSON
	}
	if ack, ok := m["ack"]; ok && len(m) == 1 {
		if !validTID(ack) {
			return Frame{}, ErrBadTID
		}
		return Frame{Kind: KindAck, TID: compactTID(ack)}, nil
	}
	tid, hasTID := m["tid"]
	if !hasTID {
		return Frame{}, ErrNoEnvelope
	}
	if !validTID(tid) {
		return Frame{}, ErrBadTID
	}
	tid = compactTID(tid)
	if res, ok := m["result"]; ok {
		var r string
		if err := json.Unmarshal(res, &r); err != nil {
			return Frame{}, &RequestError{TID: tid, Msg: "result is not a string"}
		}
		return Frame{Kind: KindReply, TID: tid, Result: r, Data: nonNull(m["data"])}, nil
	}
	_, hasClass := m["class"]
	_, hasCmd := m["cmd"]
	if !hasClass || !hasCmd {
		return Frame{}, ErrNoEnvelope
	}
	f := Frame{Kind: KindRequest, TID: tid, Subclass: defaultSubject, Data: emptyObject}
	var err error
	if f.Class, err = name(m, "class"); err != nil {
		return Frame{}, &RequestError{TID: tid, Msg: err.Error()}
	}
	if f.Cmd, err = name(m, "cmd"); err != nil {
		return Frame{}, &RequestError{TID: tid, Msg: err.Error()}
	}
	if _, ok := m["subclass"]; ok {
		if f.Subclass, err = name(m, "subclass"); err != nil {
			return Frame{}, &RequestError{TID: tid, Msg: err.Error()}
		}
	}
	if d := nonNull(m["data"]); d != nil {
		if d[0] != '{' {
			return Frame{}, &RequestError{TID: tid, Msg: "data is not an object"}
		}
		f.Data = d
	}
	return f, nil
}

// name reads a mandatory string field.
func name(m map[string]json.RawMessage, key string) (string, error) {
	var s string
	if err := json.Unmarshal(m[key], &s); err != nil {
		return "", fmt.Errorf("%s is not a string", key)
	}
	if s == "" || len(s) > maxNameBytes {
		return "", fmt.Errorf("%s must have 1 to %d bytes", key, maxNameBytes)
	}
	return s, nil
}

// validTID accepts a JSON number or string of bounded length.
func validTID(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || len(raw) > maxTIDBytes {
		return false
	}
	switch c := raw[0]; {
	case c == '"':
		var s string
		return json.Unmarshal(raw, &s) == nil
	case c == '-' || (c >= '0' && c <= '9'):
		var n json.Number
		return json.Unmarshal(raw, &n) == nil
	}
	return false
}

func compactTID(raw json.RawMessage) json.RawMessage {
	return json.RawMessage(bytes.TrimSpace(raw))
}

func nonNull(raw json.RawMessage) json.RawMessage {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	return raw
}

// serverTID reads a tid the server issued (a positive integer); other tids
// are not ours.
func serverTID(raw json.RawMessage) (uint64, bool) {
	n, err := strconv.ParseUint(string(raw), 10, 64)
	return n, err == nil && n > 0
}

// okPrefix starts the answer clients send to every event.
var okPrefix = []byte(`{"result":"ok","tid":`)

// parseOK reads {"result":"ok","tid":N} written compactly, the frame a
// client sends for each event, without a general decode.
func parseOK(b []byte) (Frame, bool) {
	if !bytes.HasPrefix(b, okPrefix) || len(b) < len(okPrefix)+2 || b[len(b)-1] != '}' {
		return Frame{}, false
	}
	digits := b[len(okPrefix) : len(b)-1]
	if len(digits) > 19 || digits[0] == '0' {
		return Frame{}, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return Frame{}, false
		}
	}
	return Frame{Kind: KindReply, Result: "ok", TID: json.RawMessage(digits)}, true
}

// commandFields are the data keys each command knows (nkservice's
// nkservice_api_syntax.erl); keys beyond them are reported back to the
// caller as an unrecognized_fields event (§3.2). Commands with no entry
// (login, core/event) take any keys.
var commandFields = map[string][]string{
	"user/list":               nil,
	"user/get":                {"user"},
	"user/send_event":         {"user", "type", "body"},
	"session/stop":            {"session_id"},
	"session/send_event":      {"session_id", "type", "body"},
	"session/cmd":             {"session_id", "class", "subclass", "cmd", "data"},
	"session/log":             {"source", "message", "full_message", "level", "meta"},
	"event/subscribe":         {"class", "subclass", "type", "obj_id", "body", "service"},
	"event/unsubscribe":       {"class", "subclass", "type", "obj_id", "service"},
	"event/get_subscriptions": nil,
	"event/send":              {"class", "subclass", "type", "obj_id", "body", "service"},
	"event/send_event":        {"class", "subclass", "type", "obj_id", "body", "service"},
}

// UnknownFields returns the keys of a core command's data object that the
// command does not know, sorted (nkservice lists them in Erlang map order,
// which sorts binaries); nil when there are none, or for commands that
// take any keys, or when data is not an object.
func UnknownFields(subclass, cmd string, data json.RawMessage) []string {
	known, ok := commandFields[subclass+"/"+cmd]
	if !ok {
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil {
		return nil
	}
	var out []string
	for k := range m {
		if !slices.Contains(known, k) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}
