package cppcomet

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/switchboard-hub/switchboard/bridge/fanout"
	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// groupKey names the fan-out group of a pipe: one upstream stream per
// (tenant, pipe) and client generation, since the generations' frames differ.
func groupKey(filters []*pb.Filter, gen Generation) string {
	return fmt.Sprintf("v%d|%s", gen, fanout.FilterSetKey(filters))
}

// webPipeEvent is the canonical event of a web_pipe2 message: pipe →
// channel, event → name, message → data (see messageData), sender →
// publisher (user hidden for @web_), dev id → tenant.
func (s *socket) webPipeEvent(c WebPipe) *pb.Event {
	pub := &pb.Publisher{Client: s.session}
	if !c.Hidden {
		pub.User = s.user
	}
	return &pb.Event{
		Tenant:    s.tenant,
		Channel:   c.Pipe,
		Name:      c.Event,
		Data:      messageData(c.Message),
		Publisher: pub,
	}
}

// messageData maps a comet message text onto Event.data, the one rule for
// every face (README "Face mapping"): a text that is a compact JSON object
// or array (what JSON.stringify writes) is that JSON value, so services on
// gRPC, DRP or Centrifugo receive the object; any other text is a JSON
// string holding it. Either way dataText gives comet pages back exactly
// the text that was sent.
func messageData(message string) string {
	t := strings.TrimSpace(message)
	if t == message && t != "" && (t[0] == '{' || t[0] == '[') && json.Valid([]byte(t)) {
		var b bytes.Buffer
		if json.Compact(&b, []byte(t)) == nil && b.String() == t {
			return t
		}
	}
	return string(encodeJSON(message))
}

// user_status_<id> and track_* pipes (§3.6) show what the core announces on
// its lifecycle channels (event.proto, EventKind): a user's first session in
// the cluster opening and its last closing (sys:users, key = the user), and
// any session joining or leaving a channel (sys:subscriptions, key = the
// channel). The core decides both once for every node and face; this face
// only adds the matching lifecycle events to a pipe's subscription and
// encodes them in comet's shape.
const (
	lifecyclePrefix      = "sys:" // the core's reserved namespace
	channelUsers         = "sys:users"
	channelSubscriptions = "sys:subscriptions"
)

// lifecycleFilter is the lifecycle events a pipe shows, or nil for a pipe
// that shows none.
func lifecycleFilter(tenant, pipe string) *pb.Filter {
	switch {
	case strings.HasPrefix(pipe, prefixUserStatus):
		return &pb.Filter{Tenant: tenant, Channels: []string{channelUsers}, Keys: []string{strings.TrimPrefix(pipe, prefixUserStatus)}}
	case strings.HasPrefix(pipe, prefixTrack):
		return &pb.Filter{Tenant: tenant, Channels: []string{channelSubscriptions}, Keys: []string{pipe}}
	}
	return nil
}

// pipeFilters is what a pipe's socket subscribes to: the pipe, and the
// lifecycle events it shows. Both travel on the pipe's one upstream stream,
// so a message published on the pipe after a join or an online reaches the
// socket after it.
func pipeFilters(tenant, pipe string) []*pb.Filter {
	filters := []*pb.Filter{{Tenant: tenant, Channels: []string{pipe}}}
	if f := lifecycleFilter(tenant, pipe); f != nil {
		filters = append(filters, f)
	}
	return filters
}
