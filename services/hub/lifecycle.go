package hub

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/services/engine"
)

// The reserved channels of lifecycle events (event.proto, EventKind). The
// hub alone publishes on them, through the engine, so every node and every
// face sees the same events; only api-key callers may subscribe.
const (
	SysNamespace         = "sys"
	ChannelSessions      = SysNamespace + ":sessions"      // CONNECT, DISCONNECT
	ChannelUsers         = SysNamespace + ":users"         // ONLINE, OFFLINE
	ChannelSubscriptions = SysNamespace + ":subscriptions" // JOIN, LEAVE
)

// lifecycleTimeout bounds publishing one lifecycle event. The publish
// outlives the request that caused it (a client that hangs up right after
// Connect still gets its CONNECT and ONLINE announced).
const lifecycleTimeout = 5 * time.Second

// isSys reports whether ch is in the reserved sys namespace (with or
// without the private-channel "$").
func isSys(ch string) bool {
	return strings.HasPrefix(ch, SysNamespace+":") || strings.HasPrefix(ch, "$"+SysNamespace+":")
}

// sysOptions are the options of every sys channel: no history (the events
// describe live state; presence and user status answer for the past), no
// presence, no announcements of their own.
var sysOptions = channelOptions{}

// writableChannel refuses channels nobody but the hub may publish into.
// (Joining one is no error: join skips them, as watching lifecycle events
// is not being in a channel.)
func writableChannel(field, ch string) error {
	if isSys(ch) {
		return invalid(field, "channel %q is in the reserved %q namespace, where only the hub publishes", ch, SysNamespace)
	}
	return nil
}

// sysAllowed refuses sys channels in the filters of callers without an api key.
func sysAllowed(filters []*pb.Filter, trusted bool) error {
	if trusted {
		return nil
	}
	for i, f := range filters {
		for _, ch := range f.GetChannels() {
			if isSys(ch) {
				return fmt.Errorf("filters[%d]: channel %q: the %q namespace needs an api key: %w", i, ch, SysNamespace, errPermission)
			}
		}
	}
	return nil
}

// channelMatch is the channel part of Match: sys channels match only a
// filter that names them, never "*" or an empty list, so that no wildcard
// subscriber (a DRP "*.*.*", a trusted backend's catch-all) starts getting
// lifecycle events it never asked for.
func channelMatch(list []string, ch string) bool {
	if isSys(ch) {
		for _, s := range list {
			if s == ch {
				return true
			}
		}
		return false
	}
	return anyOf(list, ch)
}

// sessionJSON is the data of a lifecycle event: the session, in the JSON
// the REST face uses (field names as in the .proto files).
func sessionJSON(s *pb.Session) string {
	b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(s)
	if err != nil {
		return "null"
	}
	return string(b)
}

// announceLifecycle publishes one lifecycle event about s. A failure is
// logged, never returned: the session's own operation has succeeded.
func (h *Hub) announceLifecycle(ctx context.Context, s *session, channel string, kind pb.EventKind, key string) {
	ev := &pb.Event{
		Tenant:    s.info.Tenant,
		Channel:   channel,
		Kind:      kind,
		Key:       key,
		Data:      s.lifecycleData(),
		Publisher: &pb.Publisher{User: s.info.User, Client: s.info.Id, Info: s.info.Info},
	}
	if channel != ChannelUsers {
		ev.Subject = s.info.Face
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lifecycleTimeout)
	defer cancel()
	if _, err := h.eng.Publish(ctx, ev, engine.HistoryOptions{}); err != nil && !errors.Is(err, engine.ErrClosed) {
		h.log.Warn("lifecycle event failed", "channel", channel, "kind", kind, "session", s.info.Id, "err", err)
	}
}

// lifecycleData is the session's JSON, made once.
func (s *session) lifecycleData() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.json == "" {
		s.json = sessionJSON(s.info)
	}
	return s.json
}

// opened records a new session of this node in the cluster's user
// sessions and announces it: CONNECT, then ONLINE when it is the user's
// first session on any node.
//
// The directory entry comes first: it is what refuses a session id in use
// on another node, before anything of the other session is touched.
func (h *Hub) opened(ctx context.Context, s *session) error {
	if err := h.listed(ctx, s.info); err != nil {
		return err
	}
	first, err := h.eng.AddSession(ctx, s.info)
	if err != nil {
		h.unlisted(context.WithoutCancel(ctx), s.info)
		return err
	}
	h.reg.add(s)
	sessionsGauge.Inc()
	h.announceLifecycle(ctx, s, ChannelSessions, pb.EventKind_EVENT_KIND_CONNECT, "")
	if first && s.info.User != "" {
		h.announceLifecycle(ctx, s, ChannelUsers, pb.EventKind_EVENT_KIND_ONLINE, s.info.User)
	}
	return nil
}

// closed is opened's counterpart, after the session left its channels:
// DISCONNECT, then OFFLINE when no session of the user is left anywhere.
func (h *Hub) closed(ctx context.Context, s *session) {
	h.unlisted(ctx, s.info)
	last, err := h.eng.RemoveSession(ctx, s.info)
	if err != nil {
		h.log.Warn("remove session failed", "session", s.info.Id, "err", err)
	}
	sessionsGauge.Dec()
	h.announceLifecycle(ctx, s, ChannelSessions, pb.EventKind_EVENT_KIND_DISCONNECT, "")
	if last && s.info.User != "" {
		h.announceLifecycle(ctx, s, ChannelUsers, pb.EventKind_EVENT_KIND_OFFLINE, s.info.User)
	}
}
