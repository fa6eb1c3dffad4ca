package cppcomet

import (
	"encoding/json"
	"strings"
	"time"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

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
