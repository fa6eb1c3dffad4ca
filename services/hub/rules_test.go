package hub

import (
	"context"
	"errors"
	"testing"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/access"
	"github.com/switchboard-hub/switchboard/services/auth"
)

// TestChannelReadRules is the table of the core's channel read rules: each
// channel against each kind of reader.
func TestChannelReadRules(t *testing.T) {
	var (
		server = access.ServerReader
		guest  = access.Reader{}
		claims = access.Reader{User: "42"} // a comet guest with a wrong user_key
		u42    = access.Reader{User: "42", Authenticated: true}
		u43    = access.Reader{User: "43", Authenticated: true}
		// Sessions an api-key caller subscribes or joins.
		s42    = access.Reader{User: "42", Authenticated: true, Signed: true}
		sguest = access.Reader{Signed: true}
	)
	readers := []access.Reader{server, guest, claims, u42, u43, s42, sguest}
	tests := []struct {
		channel string
		want    [7]bool // server, guest, claims, u42, u43, s42, sguest
	}{
		{"news", [7]bool{true, true, true, true, true, true, true}},
		{"ns:news", [7]bool{true, true, true, true, true, true, true}},
		{"news#42", [7]bool{true, false, false, true, false, true, false}},
		{"dialog#42,43", [7]bool{true, false, false, true, true, true, false}},
		{"a#b#43", [7]bool{true, false, false, false, true, false, false}}, // the last "#" counts
		{"news#", [7]bool{true, false, false, false, false, true, true}},
		{"news#,", [7]bool{true, false, false, false, false, true, true}},
		{"$private", [7]bool{true, false, false, false, false, true, true}},
		{"$ns:chan", [7]bool{true, false, false, false, false, true, true}},
		{"$ns:chan#42", [7]bool{true, false, false, false, false, true, false}},
		{"private_p1", [7]bool{true, false, false, true, true, true, false}},
		{"private_p1#43", [7]bool{true, false, false, false, true, false, false}},
		{"web_private_p1", [7]bool{true, true, true, true, true, true, true}},
		{"user_status_42", [7]bool{true, true, true, true, true, true, true}},
	}
	for _, tt := range tests {
		for i, r := range readers {
			err := mayRead(tt.channel, r)
			if got := err == nil; got != tt.want[i] {
				t.Errorf("mayRead(%q, %+v) = %v; want allowed=%v", tt.channel, r, err, tt.want[i])
			}
			if err != nil && !errors.Is(err, errPermission) {
				t.Errorf("mayRead(%q, %+v) = %v; want errPermission", tt.channel, r, err)
			}
			// The audience sent to faces decides the same way.
			if got := access.Admits(audienceOf(tt.channel), r); got != tt.want[i] {
				t.Errorf("Admits(audienceOf(%q), %+v) = %v; want %v", tt.channel, r, got, tt.want[i])
			}
		}
	}
}

func TestOpenChannelsHaveNoAudience(t *testing.T) {
	for _, ch := range []string{"news", "ns:news", "web_x", "track_x", "msg"} {
		if a := audienceOf(ch); a != nil {
			t.Errorf("audienceOf(%q) = %v; want nil", ch, a)
		}
	}
}

func TestReaderFor(t *testing.T) {
	p := &pb.Principal{User: "42", Authenticated: true}
	tests := []struct {
		name    string
		id      auth.Identity
		p       *pb.Principal
		want    access.Reader
		refused bool
	}{
		{"api key", auth.Identity{Trusted: true}, nil, access.ServerReader, false},
		{"api key for a user", auth.Identity{Trusted: true}, p, access.Reader{User: "42", Authenticated: true}, false},
		{"api key for a guest", auth.Identity{Trusted: true}, &pb.Principal{User: "42"}, access.Reader{User: "42"}, false},
		{"token", auth.Identity{User: "43"}, nil, access.Reader{User: "43", Authenticated: true}, false},
		{"token naming a principal", auth.Identity{User: "43"}, p, access.Reader{}, true},
		{"nobody", auth.Identity{}, nil, access.Reader{}, false},
	}
	for _, tt := range tests {
		got, err := readerFor(auth.WithIdentity(context.Background(), tt.id), tt.p)
		if (err != nil) != tt.refused || (err != nil && !errors.Is(err, errPermission)) {
			t.Errorf("%s: err = %v; want refused=%v", tt.name, err, tt.refused)
		}
		if err == nil && got != tt.want {
			t.Errorf("%s: reader = %+v; want %+v", tt.name, got, tt.want)
		}
	}
}

func TestLimitedChannels(t *testing.T) {
	got := limitedChannels([]*pb.Filter{
		{Channels: []string{"news", "news#42", "private_x"}},
		{Channels: []string{"news#42", "*"}}, // any channel: nothing exact
		{Channels: []string{"$p"}},
	})
	want := []string{"news#42", "private_x", "$p"}
	if len(got) != len(want) {
		t.Fatalf("limitedChannels = %v; want channels %v", got, want)
	}
	for i, ca := range got {
		if ca.Channel != want[i] || !access.Admits(ca.Audience, access.ServerReader) || access.Admits(ca.Audience, access.Reader{}) {
			t.Errorf("limitedChannels[%d] = %v; want %s limited", i, ca, want[i])
		}
	}
}
