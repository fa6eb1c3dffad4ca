package hub

import (
	"context"
	"fmt"
	"strings"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/access"
	"github.com/switchboard-hub/switchboard/services/auth"
)

// The channel read rules. They live here and nowhere else: every read the
// hub answers (Subscribe and each event it delivers, History, Presence,
// PresenceStats, Channels, Join) asks mayRead, and streams shared by a face
// carry each limited event's Audience so that the face can compare it with
// its sockets' principals (package access) without knowing the rules.
//
//	"$chan", "$ns:chan"   Centrifugo v1 private channel: a client
//	                      subscription needs the backend's signature, so only
//	                      api-key callers read it, for themselves (the server
//	                      API) or for a session they subscribe or join; a
//	                      user token or a face reading for a socket cannot
//	"name#42,43"          user-limited: only the authenticated users listed
//	                      after the last "#" (none listed: the server only)
//	"private_name"        comet-server private pipe: authenticated users only
//
// Rules combine: "private_x#42" is for user 42, once authenticated. Who
// reads is an access.Reader: an api-key caller is the server unless it
// names a principal (on_behalf_of); a token caller is its authenticated
// user; a session that an api-key caller subscribes or joins reads as its
// user (which faces set only once they have verified it: guests have none),
// signed by that caller.
const (
	privatePrefix    = "$"
	userLimitMark    = '#'
	cometPrivatePipe = "private_"
)

// audienceOf derives who may read a channel; nil when anyone may.
func audienceOf(channel string) *pb.Audience {
	var a *pb.Audience
	limit := func() *pb.Audience {
		if a == nil {
			a = &pb.Audience{}
		}
		return a
	}
	if strings.HasPrefix(channel, privatePrefix) {
		limit().ServerOnly = true
	}
	if strings.HasPrefix(channel, cometPrivatePipe) {
		limit().Authenticated = true
	}
	if i := strings.LastIndexByte(channel, userLimitMark); i >= 0 {
		a := limit()
		for u := range strings.SplitSeq(channel[i+1:], ",") {
			if u != "" {
				a.Users = append(a.Users, u)
			}
		}
		if len(a.Users) == 0 {
			a.ServerOnly = true
		}
	}
	return a
}

// mayRead checks that r may read channel.
func mayRead(channel string, r access.Reader) error {
	a := audienceOf(channel)
	if access.Admits(a, r) {
		return nil
	}
	switch {
	case a.GetServerOnly() && !r.Signed:
		return fmt.Errorf("channel %q is private: only api-key callers read it: %w", channel, errPermission)
	case len(a.GetUsers()) > 0:
		return fmt.Errorf("channel %q is limited to other users: %w", channel, errPermission)
	default:
		return fmt.Errorf("channel %q needs an authenticated user: %w", channel, errPermission)
	}
}

// readerFor is on whose behalf a call reads: the principal an api-key
// caller names, else the caller itself.
func readerFor(ctx context.Context, p *pb.Principal) (access.Reader, error) {
	id := auth.FromContext(ctx)
	switch {
	case p != nil && !id.Trusted:
		return access.Reader{}, fmt.Errorf("on_behalf_of needs an api key: %w", errPermission)
	case p != nil:
		return access.FromPrincipal(p), nil
	case id.Trusted:
		return access.ServerReader, nil
	default:
		return access.Reader{User: id.User, Authenticated: id.User != ""}, nil
	}
}

// sessionReader is how a session reads: as its user, which a face sets
// only once it has verified it; signed when an api-key caller makes the
// read for it.
func sessionReader(s *pb.Session, signed bool) access.Reader {
	return access.Reader{User: s.GetUser(), Authenticated: s.GetUser() != "", Signed: signed}
}

// limitedChannels lists the audiences of the limited channels filters name
// exactly, each channel once.
func limitedChannels(filters []*pb.Filter) []*pb.ChannelAudience {
	var out []*pb.ChannelAudience
	seen := map[string]bool{}
	for _, f := range filters {
		for _, ch := range exactChannels(f) {
			if seen[ch] {
				continue
			}
			seen[ch] = true
			if a := audienceOf(ch); a != nil {
				out = append(out, &pb.ChannelAudience{Channel: ch, Audience: a})
			}
		}
	}
	return out
}

// eventMessage is the stream message of ev, with its audience when its
// channel is limited.
func eventMessage(ev *pb.Event) *pb.SubscribeResponse {
	return &pb.SubscribeResponse{Payload: &pb.SubscribeResponse_Event{Event: ev}, Audience: audienceOf(ev.Channel)}
}
