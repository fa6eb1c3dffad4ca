// Package streamable defines Comet Server's StreamableEvent as Switchboard
// sends it: the SEVT_ type numbers, the JSON shape, and the one mapping from
// a canonical hub Event to a StreamableEvent. The admin event stream and the
// webhook delivery both use it, so that a type number means the same thing
// on every path. The README's "Comet Server live events" section has the
// table; comet-backup.md §3 has the wire facts.
package streamable

import (
	"encoding/json"
	"strings"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// Type is a SEVT_ number.
type Type int32

// Comet Server's own numbers (comet-backup.md §3.2) that Switchboard sends.
const (
	MetaHello          Type = 4000
	AdminLogin         Type = 4153
	AdminLoginFailed   Type = 4154
	AdminSessionStart  Type = 4155
	AdminSessionRevoke Type = 4156
	AdminSessionExpire Type = 4157
	// TypeMin and TypeMax bound every SEVT number (SEVT__MIN, SEVT__MAX).
	TypeMin, TypeMax Type = 4000, 4999
)

// Switchboard's own numbers, in 4900–4999 (inside Comet's SEVT range, above
// every number Comet defines).
const (
	// HubEvent is every event published on any face: Data carries the
	// canonical event (tenant, channel, name, key, data, ...).
	HubEvent Type = 4900
	// SessionConnect and SessionDisconnect: a connection of any face opened
	// or closed (ResourceID = session id, Actor = user).
	SessionConnect    Type = 4910
	SessionDisconnect Type = 4911
	// UserOnline and UserOffline: a user's first session in the cluster
	// opened, its last one closed (ResourceID = user id).
	UserOnline  Type = 4912
	UserOffline Type = 4913
	// Subscribe and Unsubscribe: a session joined or left a channel
	// (ResourceID = channel).
	Subscribe   Type = 4914
	Unsubscribe Type = 4915
	// WebhookOptionsUpdated: the webhook configuration was replaced.
	WebhookOptionsUpdated Type = 4920
)

var names = map[Type]string{
	MetaHello:             "SEVT_META_HELLO",
	AdminLogin:            "SEVT_ACCOUNT_ADMIN_LOGIN",
	AdminLoginFailed:      "SEVT_ACCOUNT_ADMIN_LOGIN_FAILED",
	AdminSessionStart:     "SEVT_ACCOUNT_ADMIN_SESSION_START",
	AdminSessionRevoke:    "SEVT_ACCOUNT_ADMIN_SESSION_REVOKE",
	HubEvent:              "SEVT_HUB_EVENT",
	SessionConnect:        "SEVT_SESSION_CONNECT",
	SessionDisconnect:     "SEVT_SESSION_DISCONNECT",
	UserOnline:            "SEVT_USER_ONLINE",
	UserOffline:           "SEVT_USER_OFFLINE",
	Subscribe:             "SEVT_SUBSCRIBE",
	Unsubscribe:           "SEVT_UNSUBSCRIBE",
	WebhookOptionsUpdated: "SEVT_WEBHOOK_OPTIONS_UPDATED",
}

// String is the SEVT_ constant's name ("" for a number without one).
func (t Type) String() string { return names[t] }

// Reserved channels of the "sys" namespace the hub publishes lifecycle
// events on (see event.proto EventKind), and the ones this package adds:
// ChannelAdmin carries administrator events, ChannelWebhooks the webhook
// configuration changes. Events on ChannelAdmin and ChannelWebhooks carry
// their SEVT number in Event.code and their Comet Data in Event.data.
const (
	ChannelSessions      = "sys:sessions"
	ChannelUsers         = "sys:users"
	ChannelSubscriptions = "sys:subscriptions"
	ChannelAdmin         = "sys:admin"
	ChannelWebhooks      = "sys:webhooks"
)

// SysChannels lists every reserved channel a stream of StreamableEvents
// listens to.
var SysChannels = []string{ChannelSessions, ChannelUsers, ChannelSubscriptions, ChannelAdmin, ChannelWebhooks}

// Event is a StreamableEvent in Comet's JSON shape (comet-backup.md §3.1):
// PascalCase keys; ResourceID, Timestamp, TypeString and Data omitted when
// empty.
type Event struct {
	Actor               string          `json:"Actor"`
	OwnerOrganizationID string          `json:"OwnerOrganizationID"`
	ResourceID          string          `json:"ResourceID,omitempty"`
	Type                Type            `json:"Type"`
	Timestamp           int64           `json:"Timestamp,omitempty"`
	TypeString          string          `json:"TypeString,omitempty"`
	Data                json.RawMessage `json:"Data,omitempty"`
}

// HubEventData is the Data of a HubEvent and of the lifecycle types: the
// canonical event's fields, empty ones omitted. Data and Previous are the
// event's JSON values as they were published.
type HubEventData struct {
	ID       string          `json:"ID,omitempty"`
	Tenant   string          `json:"Tenant,omitempty"`
	Channel  string          `json:"Channel"`
	Subject  string          `json:"Subject,omitempty"`
	Name     string          `json:"Name,omitempty"`
	Key      string          `json:"Key,omitempty"`
	Code     int32           `json:"Code,omitempty"`
	User     string          `json:"User,omitempty"`
	Client   string          `json:"Client,omitempty"`
	Data     json.RawMessage `json:"Data,omitempty"`
	Previous json.RawMessage `json:"Previous,omitempty"`
	Offset   uint64          `json:"Offset,omitempty"`
}

// FromEvent maps a canonical event onto a StreamableEvent; ok is false for
// events that have no StreamableEvent (JOIN/LEAVE announced on ordinary
// channels: sys:subscriptions already carries every join and leave).
func FromEvent(ev *pb.Event) (e Event, ok bool) {
	e, hub, ok := header(ev)
	if ok && hub {
		e.Data, _ = json.Marshal(hubData(ev))
	}
	return e, ok
}

// TypeOf is FromEvent's Type and ok, without building the Data.
func TypeOf(ev *pb.Event) (Type, bool) {
	e, _, ok := header(ev)
	return e.Type, ok
}

// header is FromEvent without the Data of hub and lifecycle events (hub
// reports that it is theirs to add).
func header(ev *pb.Event) (e Event, hub, ok bool) {
	e = Event{
		Actor:               ev.GetPublisher().GetUser(),
		OwnerOrganizationID: ev.GetTenant(),
	}
	if t := ev.GetTime(); t != nil {
		e.Timestamp = t.GetSeconds()
	}
	ch := ev.GetChannel()
	switch {
	case ch == ChannelAdmin || ch == ChannelWebhooks:
		// Comet-native events: the publisher chose the type and the Data.
		e.Type = Type(ev.GetCode())
		e.ResourceID = ev.GetKey()
		e.Data = rawJSON(ev.GetData())
		e.TypeString = e.Type.String()
		return e, false, e.Type >= TypeMin && e.Type <= TypeMax
	case ch == ChannelSessions:
		e.Type = lifecycleType(ev.GetKind(), pb.EventKind_EVENT_KIND_CONNECT, SessionConnect, pb.EventKind_EVENT_KIND_DISCONNECT, SessionDisconnect)
		e.ResourceID = ev.GetPublisher().GetClient()
	case ch == ChannelUsers:
		e.Type = lifecycleType(ev.GetKind(), pb.EventKind_EVENT_KIND_ONLINE, UserOnline, pb.EventKind_EVENT_KIND_OFFLINE, UserOffline)
		e.ResourceID = ev.GetKey()
	case ch == ChannelSubscriptions:
		e.Type = lifecycleType(ev.GetKind(), pb.EventKind_EVENT_KIND_JOIN, Subscribe, pb.EventKind_EVENT_KIND_LEAVE, Unsubscribe)
		e.ResourceID = ev.GetKey()
	case ev.GetKind() != pb.EventKind_EVENT_KIND_UNSPECIFIED:
		return Event{}, false, false
	default:
		e.Type = HubEvent
		e.ResourceID = ev.GetKey()
	}
	if e.Type == 0 {
		return Event{}, false, false
	}
	e.TypeString = e.Type.String()
	return e, true, true
}

func lifecycleType(k, a pb.EventKind, ta Type, b pb.EventKind, tb Type) Type {
	switch k {
	case a:
		return ta
	case b:
		return tb
	}
	return 0
}

func hubData(ev *pb.Event) HubEventData {
	return HubEventData{
		ID:       ev.GetId(),
		Tenant:   ev.GetTenant(),
		Channel:  ev.GetChannel(),
		Subject:  ev.GetSubject(),
		Name:     ev.GetName(),
		Key:      ev.GetKey(),
		Code:     ev.GetCode(),
		User:     ev.GetPublisher().GetUser(),
		Client:   ev.GetPublisher().GetClient(),
		Data:     rawJSON(ev.GetData()),
		Previous: rawJSON(ev.GetPrevious()),
		Offset:   ev.GetOffset(),
	}
}

// rawJSON is s as a JSON value, nil when s is empty or not valid JSON (the
// hub only accepts valid JSON, so the latter does not happen in practice).
func rawJSON(s string) json.RawMessage {
	if s == "" || !json.Valid([]byte(s)) {
		return nil
	}
	return json.RawMessage(s)
}

// Hello is the SEVT_META_HELLO that starts every stream; its Data is
// Comet's ServerMetaVersionInfo (the fields Switchboard can fill).
func Hello(version string, started, now int64, node string) Event {
	data, _ := json.Marshal(struct {
		Version         string `json:"Version"`
		VersionCodename string `json:"VersionCodename"`
		ServerStartTime int64  `json:"ServerStartTime"`
		ServerStartHash string `json:"ServerStartHash"`
		CurrentTime     int64  `json:"CurrentTime"`
	}{version, "switchboard", started, node, now})
	return Event{Type: MetaHello, Timestamp: now, TypeString: MetaHello.String(), Data: data}
}

// ToProto converts e to the contract's message.
func (e Event) ToProto() *pb.StreamableEvent {
	return &pb.StreamableEvent{
		Actor:               e.Actor,
		OwnerOrganizationId: e.OwnerOrganizationID,
		ResourceId:          e.ResourceID,
		Type:                int32(e.Type),
		Timestamp:           e.Timestamp,
		TypeString:          e.TypeString,
		Data:                string(e.Data),
	}
}

// FromProto converts the contract's message to e.
func FromProto(p *pb.StreamableEvent) Event {
	return Event{
		Actor:               p.GetActor(),
		OwnerOrganizationID: p.GetOwnerOrganizationId(),
		ResourceID:          p.GetResourceId(),
		Type:                Type(p.GetType()),
		Timestamp:           p.GetTimestamp(),
		TypeString:          p.GetTypeString(),
		Data:                rawJSON(p.GetData()),
	}
}

// Marshal is e's JSON text.
func (e Event) Marshal() []byte {
	b, _ := json.Marshal(e) // every field marshals; RawMessage is valid by construction
	return b
}

// AllowList is a set of SEVT numbers; the empty list allows every type.
type AllowList []int32

// Allows reports whether t passes the list.
func (l AllowList) Allows(t Type) bool {
	if len(l) == 0 {
		return true
	}
	for _, v := range l {
		if Type(v) == t {
			return true
		}
	}
	return false
}

// IsSys reports whether channel is in the reserved "sys" namespace.
func IsSys(channel string) bool { return strings.HasPrefix(channel, "sys:") }
