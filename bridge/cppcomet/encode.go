package cppcomet

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// Reserved pipes and events of the protocol (§3.6).
const (
	pipeSys            = "sys"
	pipeMsg            = "msg"
	pipeAnswer         = "_answer"
	pipeAnswerTo       = "_answer_to_" // + pipe
	pipeAnswerCount    = "_answer_pipe_count"
	pipeAnswerStatus   = "_answer_user_status"
	prefixTrack        = "track_"
	prefixUserStatus   = "user_status_" // + user id
	eventServerInfo    = "serverInfo"
	eventError         = "error"
	eventAnswer        = "answer"
	eventUserInPipe    = "user_in_pipe"
	eventSubscribe     = "subscription"
	eventUnsubscribe   = "unsubscription"
	eventOnline        = "online"
	eventOffline       = "offline"
	eventUndefined     = "undefined" // an event without a name (§3.3, JS client)
	trackUsersInfo     = "answer for track_pipe_users"
	legacyAPIData      = "for major_version < 4"
	legacyMajorVersion = 4 // below: Gen3 or Gen1 frames
	base64MajorVersion = 2 // below: Gen1 frames
)

// envelope is every server message (§3.1). The fields are declared in
// alphabetical order of their keys, so encoding/json writes them sorted,
// as comet-server's std::map does; optional fields are omitted when empty.
type envelope struct {
	Info            string `json:"_info,omitempty"`
	APIData         string `json:"api_data,omitempty"`
	Authorized      *bool  `json:"authorized,omitempty"`
	Data            any    `json:"data"`
	Event           string `json:"event"`
	EventName       string `json:"event_name,omitempty"`
	FromQueue       bool   `json:"fromQueue,omitempty"`
	History         bool   `json:"history,omitempty"`
	Marker          string `json:"marker,omitempty"`
	MessageSendTime *int64 `json:"message_send_time,omitempty"`
	Pipe            string `json:"pipe"`
	PipeName        string `json:"pipe_name,omitempty"`
	Server          string `json:"server,omitempty"`
	UserID          *int64 `json:"user_id,omitempty"`
}

// Payloads of replies; fields again in alphabetical key order.
type (
	answerData struct {
		Message        string `json:"message"`
		NumberMessages int64  `json:"number_messages"`
	}
	pipeCountData struct {
		UserInPipe int64 `json:"user_in_pipe"`
	}
	trackUser struct {
		UserID int64  `json:"user_id"`
		UUID   string `json:"uuid"`
	}
	userStatusData struct {
		Data           int64 `json:"data"`
		LastOnlineTime int64 `json:"last_online_time"`
	}
	userDataData struct {
		UserData string `json:"user_data"`
		UserID   int64  `json:"user_id"`
	}
	handshakeErrorData struct {
		Error     string `json:"error"`
		ErrorCode int    `json:"error_code"`
		Info      string `json:"info"`
	}
	errorMessagesData struct {
		Error          string `json:"error"`
		NumberMessages int    `json:"number_messages"`
	}
	errorCodeData struct {
		Code  string `json:"code"`
		Error string `json:"error"`
	}
	errorUsersData struct {
		Error       string `json:"error"`
		NumberUsers int    `json:"number_users"`
	}
	errorUserDataData struct {
		Error    string `json:"error"`
		UserData string `json:"user_data"`
		UserID   int    `json:"user_id"`
	}
)

// marshal writes one message as one frame in the client's generation.
// Below 4.0 it applies comet-server's version shim (§3.1): `event_name` and
// `api_data` are added and an object or array `data` becomes its JSON text,
// except on pipe `msg`; `pipe_name` repeats `pipe` under its pre-4.0 name
// (seed). Gen1 clients get `data` base64-encoded instead (see Gen1);
// serverInfo is read before any decoding and stays as it is.
func marshal(env envelope, gen Generation) []byte {
	switch gen {
	case Gen3:
		env.EventName = env.Event
		env.APIData = legacyAPIData
		env.PipeName = env.Pipe
		if _, isString := env.Data.(string); !isString && env.Pipe != pipeMsg {
			env.Data = string(encodeJSON(env.Data))
		}
	case Gen1:
		env.APIData = legacyAPIData
		env.PipeName = env.Pipe
		if env.Authorized == nil {
			env.Data = base64Payload(env.Data, env.Event)
		}
	}
	return encodeJSON(env)
}

// base64Payload is a Gen1 `data`: the base64 of {"data":<value>,
// "event_name":<event>}. A string value that holds JSON is embedded as that
// JSON, as the page once sent it; other strings stay strings.
func base64Payload(data any, event string) string {
	var value any = data
	if s, ok := data.(string); ok {
		value = s
		if json.Valid([]byte(s)) {
			value = json.RawMessage(s)
		}
	}
	inner := encodeJSON(struct {
		Data      any    `json:"data"`
		EventName string `json:"event_name"`
	}{value, event})
	return base64.StdEncoding.EncodeToString(inner)
}

// encodeJSON is json.Marshal without HTML escaping (comet-server writes
// `<`, `>` and `&` as they are) and without the trailing newline. Every
// value passed here is built by this package and always encodes.
func encodeJSON(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Unreachable for the types above; keep the frame valid JSON anyway.
		return []byte(`{"data":"","event":"error","pipe":"sys"}`)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

func ptr[T any](v T) *T { return &v }

// seconds is an event's time in unix seconds (now when the event has none).
func seconds(ev *pb.Event, now time.Time) int64 {
	if t := ev.GetTime(); t != nil {
		return t.GetSeconds()
	}
	return now.Unix()
}

// dataText is the comet `data` string of an event (§6.5): a JSON string
// value is unquoted, any other JSON value is sent as its compact JSON text.
func dataText(data string) string {
	var s string
	if strings.HasPrefix(strings.TrimLeft(data, " \t\r\n"), `"`) && json.Unmarshal([]byte(data), &s) == nil {
		return s
	}
	var b bytes.Buffer
	if json.Compact(&b, []byte(data)) == nil {
		return b.String()
	}
	return data
}

// cometUserID is the numeric comet user id of a canonical user id; users
// of other faces with non-numeric ids show as 0 (anonymous).
func cometUserID(user string) int64 {
	n, err := strconv.ParseInt(user, 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

func eventName(name string) string {
	if name == "" {
		return eventUndefined
	}
	return name
}

// encodePipeEvent is the frame of a channel event for subscribers of its
// pipe; nil means comet clients do not see the event. The fan-out Encoder
// (encodeEvent) calls it once per event per client generation.
// Join and leave events in the channel itself (namespaces with join_leave)
// are not shown: comet's track_ announcements come from the core's
// lifecycle events (encodeLifecycleEvent), and other pipes have none (§3.6).
func encodePipeEvent(ev *pb.Event, gen Generation, now time.Time) []byte {
	switch ev.GetKind() {
	case pb.EventKind_EVENT_KIND_JOIN, pb.EventKind_EVENT_KIND_LEAVE:
		return nil
	}
	return marshal(pipeEnvelope(ev, now), gen)
}

// pipeEnvelope is a pipe message (§3.3 web_pipe2 delivery shape).
func pipeEnvelope(ev *pb.Event, now time.Time) envelope {
	return envelope{
		Data:            dataText(ev.GetData()),
		Event:           eventName(ev.GetName()),
		MessageSendTime: ptr(seconds(ev, now)),
		Pipe:            ev.GetChannel(),
		UserID:          ptr(cometUserID(ev.GetPublisher().GetUser())),
	}
}

// encodeHistory is one pipe_log replay message: the pipe message with
// fromQueue. Only clients below 4.0 get the request's marker and history
// (§3.3 pipe_log): a 4.x client drops every pipe message whose marker is
// set and is not its own tab id, and pipe_log sends a fresh random marker,
// so an echoed marker would reach no callback.
func encodeHistory(ev *pb.Event, marker string, gen Generation, now time.Time) []byte {
	env := pipeEnvelope(ev, now)
	env.FromQueue = true
	if gen != Gen4 {
		env.History = true
		env.Marker = marker
	}
	return marshal(env, gen)
}

// encodeDirected is a personal message (§3.5): live ones carry no time,
// queued ones replayed after login carry fromQueue and their queued time.
func encodeDirected(ev *pb.Event, queued bool, gen Generation, now time.Time) []byte {
	pipe := ev.GetChannel()
	if pipe == "" {
		pipe = pipeMsg
	}
	env := envelope{Data: dataText(ev.GetData()), Event: eventName(ev.GetName()), Pipe: pipe}
	if queued {
		env.FromQueue = true
		env.MessageSendTime = ptr(seconds(ev, now))
	}
	return marshal(env, gen)
}

// encodeServerInfo is the first message of every connection (§3.2); data
// is always a string, the JS client calls replace() on it.
func encodeServerInfo(authorized bool, hash, server string, gen Generation, now time.Time) []byte {
	return marshal(envelope{
		Authorized:      ptr(authorized),
		Data:            hash,
		Event:           eventServerInfo,
		MessageSendTime: ptr(now.Unix()),
		Pipe:            pipeSys,
		Server:          server,
	}, gen)
}

// encodeAnswerTo is the sender's delivery report of a web_pipe2 message.
func encodeAnswerTo(pipe, message string, delivered int64, gen Generation, now time.Time) []byte {
	return marshal(envelope{
		Data:            answerData{Message: message, NumberMessages: delivered},
		Event:           eventAnswer,
		MessageSendTime: ptr(now.Unix()),
		Pipe:            pipeAnswerTo + pipe,
	}, gen)
}

// encodePipeCount answers pipe_count in the documented object form
// {"user_in_pipe": n}, which the JS docs read as res.data.user_in_pipe.
func encodePipeCount(n int64, marker string, gen Generation, now time.Time) []byte {
	return marshal(envelope{
		Data:            pipeCountData{UserInPipe: n},
		Event:           eventUserInPipe,
		Marker:          marker,
		MessageSendTime: ptr(now.Unix()),
		Pipe:            pipeAnswerCount,
	}, gen)
}

// encodeTrackUsers answers track_pipe_users; data is always an array.
func encodeTrackUsers(users []trackUser, marker string, gen Generation, now time.Time) []byte {
	if users == nil {
		users = []trackUser{}
	}
	return marshal(envelope{
		Info:            trackUsersInfo,
		Data:            users,
		Event:           eventAnswer,
		Marker:          marker,
		MessageSendTime: ptr(now.Unix()),
		Pipe:            pipeAnswer,
	}, gen)
}

// encodeUserStatus answers user_status: seconds since the user was last
// online (0 while online, -1 when never seen), in both fields.
func encodeUserStatus(userID, sinceOnline int64, gen Generation, now time.Time) []byte {
	return marshal(envelope{
		Data:            userStatusData{Data: sinceOnline, LastOnlineTime: sinceOnline},
		Event:           prefixUserStatus + strconv.FormatInt(userID, 10),
		MessageSendTime: ptr(now.Unix()),
		Pipe:            pipeAnswerStatus,
	}, gen)
}

// encodeUserData answers user_data.
func encodeUserData(userID int64, data, marker string, gen Generation, now time.Time) []byte {
	return marshal(envelope{
		Data:            userDataData{UserData: data, UserID: userID},
		Event:           eventAnswer,
		Marker:          marker,
		MessageSendTime: ptr(now.Unix()),
		Pipe:            pipeAnswer,
	}, gen)
}

// encodeError is a protocol error message on pipe sys (§3.4).
func encodeError(e *ProtocolError, gen Generation, now time.Time) []byte {
	var data any
	switch e.Shape {
	case shapeCode:
		data = errorCodeData{Code: subscriptionErrorCode, Error: e.Text}
	case shapeUsers:
		data = errorUsersData{Error: e.Text, NumberUsers: -1}
	case shapeUserData:
		data = errorUserDataData{Error: e.Text, UserID: -1}
	default:
		data = errorMessagesData{Error: e.Text, NumberMessages: -1}
	}
	return marshal(envelope{Data: data, Event: eventError, MessageSendTime: ptr(now.Unix()), Pipe: pipeSys}, gen)
}

// encodeHandshakeError is the one message sent before hanging up on a bad
// URL or Origin (§2). The client version is not known yet, so comet-server's
// <4 shim always applies and data is a JSON string (no pipe_name: the frame
// is comet-server's own, byte for byte).
func encodeHandshakeError(e *HandshakeError, now time.Time) []byte {
	return encodeJSON(envelope{
		APIData:         legacyAPIData,
		Data:            string(encodeJSON(handshakeErrorData{Error: e.Text, ErrorCode: e.Code, Info: handshakeInfo})),
		Event:           eventError,
		EventName:       eventError,
		MessageSendTime: ptr(now.Unix()),
		Pipe:            pipeSys,
	})
}

// encodeEvent is the fan-out Encoder of this face, called once per event
// per client generation: a lifecycle event or a pipe event.
func encodeEvent(ev *pb.Event, gen Generation, now time.Time) []byte {
	if strings.HasPrefix(ev.GetChannel(), lifecyclePrefix) {
		return encodeLifecycleEvent(ev, gen, now)
	}
	return encodePipeEvent(ev, gen, now)
}

// lifecycleSession is the part of a lifecycle event's data (the session,
// in the contract's JSON) that comet shows.
type lifecycleSession struct {
	User   string `json:"user"`
	Client string `json:"client"` // the comet uuid of a comet connection
}

// encodeLifecycleEvent is the frame of a lifecycle event on the pipe it
// concerns; nil for anything else. It is the fan-out Encoder of lifecycle
// groups. The connection that caused a track_ announcement does not see it
// (§3.6): its sink skips events it published, and the core names the
// session as the publisher.
//
//	sys:users ONLINE/OFFLINE of user 12  → {"data":"online","event":"online","pipe":"user_status_12"}
//	sys:subscriptions JOIN/LEAVE on track_x → {"data":{"user_id":5,"uuid":"..."},"event":"subscription",...,"pipe":"track_x"}
func encodeLifecycleEvent(ev *pb.Event, gen Generation, now time.Time) []byte {
	switch ev.GetKind() {
	case pb.EventKind_EVENT_KIND_ONLINE, pb.EventKind_EVENT_KIND_OFFLINE:
		if ev.GetChannel() != channelUsers || ev.GetKey() == "" {
			return nil
		}
		name := eventOffline
		if ev.GetKind() == pb.EventKind_EVENT_KIND_ONLINE {
			name = eventOnline
		}
		// No time, no sender (§3.6).
		return marshal(envelope{Data: name, Event: name, Pipe: prefixUserStatus + ev.GetKey()}, gen)
	case pb.EventKind_EVENT_KIND_JOIN, pb.EventKind_EVENT_KIND_LEAVE:
		if ev.GetChannel() != channelSubscriptions || !strings.HasPrefix(ev.GetKey(), prefixTrack) {
			return nil
		}
		name := eventUnsubscribe
		if ev.GetKind() == pb.EventKind_EVENT_KIND_JOIN {
			name = eventSubscribe
		}
		var who lifecycleSession
		if err := json.Unmarshal([]byte(ev.GetData()), &who); err != nil || who.User == "" {
			who.User = ev.GetPublisher().GetUser()
		}
		return marshal(envelope{
			Data:            trackUser{UserID: cometUserID(who.User), UUID: who.Client},
			Event:           name,
			MessageSendTime: ptr(seconds(ev, now)),
			Pipe:            ev.GetKey(),
		}, gen)
	}
	return nil
}
