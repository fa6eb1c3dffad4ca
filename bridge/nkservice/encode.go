package nkservice

import (
	"bytes"
	"encoding/json"
	"strconv"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// Frames the server sends (§3.1). Field order is fixed, so frames can be
// compared byte for byte in tests (nkservice itself gives no order).

type replyFrame struct {
	Result string          `json:"result"`
	TID    json.RawMessage `json:"tid"`
	Data   json.RawMessage `json:"data,omitempty"`
}

type errorData struct {
	Code  int64  `json:"code"`
	Error string `json:"error"`
}

// encodeOK is {"result":"ok","tid":T,"data":D}; data is omitted when it is
// nil or an empty object (a list, even empty, is kept).
func encodeOK(tid json.RawMessage, data json.RawMessage) []byte {
	if bytes.Equal(bytes.TrimSpace(data), []byte("{}")) {
		data = nil
	}
	return mustJSON(replyFrame{Result: "ok", TID: orNull(tid), Data: data})
}

// encodeError is {"result":"error","tid":T,"data":{"code":N,"error":"text"}}.
func encodeError(tid json.RawMessage, e *Error) []byte {
	d := mustJSON(errorData{Code: e.Code, Error: e.Text})
	return mustJSON(replyFrame{Result: "error", TID: orNull(tid), Data: d})
}

// encodeAck is {"ack":T}.
func encodeAck(tid json.RawMessage) []byte {
	return mustJSON(struct {
		Ack json.RawMessage `json:"ack"`
	}{orNull(tid)})
}

// requestFrame is a server-originated request: subclass omitted when core,
// data omitted when empty (send_request, §3.1).
type requestFrame struct {
	Class    string          `json:"class"`
	Subclass string          `json:"subclass,omitempty"`
	Cmd      string          `json:"cmd"`
	TID      uint64          `json:"tid"`
	Data     json.RawMessage `json:"data,omitempty"`
}

func encodeRequest(class, subclass, cmd string, tid uint64, data json.RawMessage) []byte {
	if subclass == defaultSubject {
		subclass = ""
	}
	if d := bytes.TrimSpace(data); len(d) == 0 || bytes.Equal(d, []byte("{}")) {
		data = nil
	}
	return mustJSON(requestFrame{Class: class, Subclass: subclass, Cmd: cmd, TID: tid, Data: data})
}

// encodeEventData is the fan-out encoder: the data object of an event,
// made once per event and shared by every socket of a group.
func encodeEventData(ev *pb.Event) ([]byte, error) {
	addr, body := FromEvent(ev)
	return json.Marshal(eventData{Class: addr.Class, Subclass: addr.Subclass, Type: addr.Type, ObjID: addr.ObjID, Body: body})
}

// withBody re-encodes an event's data object with a merged body.
func withBody(ev *pb.Event, subBody json.RawMessage) []byte {
	addr, body := FromEvent(ev)
	body = objectBody(MergeBody(subBody, body))
	return mustJSON(eventData{Class: addr.Class, Subclass: addr.Subclass, Type: addr.Type, ObjID: addr.ObjID, Body: body})
}

// eventPrefix and eventSuffix wrap a shared data object into one socket's
// event request: {"class":"core","cmd":"event","tid":N,"data":{...}}.
var (
	eventPrefix = []byte(`{"class":"core","cmd":"event","tid":`)
	eventMiddle = []byte(`,"data":`)
)

func encodeEvent(tid uint64, data []byte) []byte {
	b := make([]byte, 0, len(eventPrefix)+20+len(eventMiddle)+len(data)+1)
	b = append(b, eventPrefix...)
	b = strconv.AppendUint(b, tid, 10)
	b = append(b, eventMiddle...)
	b = append(b, data...)
	return append(b, '}')
}

func orNull(tid json.RawMessage) json.RawMessage {
	if len(tid) == 0 {
		return json.RawMessage("null")
	}
	return tid
}

// mustJSON marshals values made of strings, numbers and raw JSON already
// validated; should one still fail, the frame says internal error.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return []byte(`{"result":"error","tid":null,"data":{"code":100002,"error":"Internal error"}}`)
	}
	return b
}
