package redis

import (
	"testing"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/services/engine"
	"google.golang.org/protobuf/proto"
)

func TestControlRoundTrip(t *testing.T) {
	cases := []*engine.Control{
		{Kind: engine.ControlDisconnect, Tenant: "t", User: "u", Reason: "why"},
		{Kind: engine.ControlUnsubscribe, Tenant: "t", User: "u", Channel: "c"},
		{Kind: engine.ControlDeliver, Event: &pb.Event{Id: "1", Data: `{"a":1}`, To: &pb.Recipient{Session: "s"}}},
		{Kind: engine.ControlDisconnect, Session: "s1", Reason: "stop"},
		{Kind: engine.ControlCommand, Session: "s1", Request: &engine.Request{ID: "r1", Node: "n1", Payload: []byte{1, 2, 0}}},
		{Kind: engine.ControlReply, Request: &engine.Request{ID: "r1", Node: "n1"}},
	}
	for _, c := range cases {
		b, err := encodeControl(c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeControl(b)
		if err != nil {
			t.Fatal(err)
		}
		if got.Kind != c.Kind || got.Tenant != c.Tenant || got.User != c.User || got.Channel != c.Channel ||
			got.Reason != c.Reason || !proto.Equal(got.Event, c.Event) || got.Session != c.Session ||
			(c.Request != nil) != (got.Request != nil) ||
			(c.Request != nil && (got.Request.ID != c.Request.ID || got.Request.Node != c.Request.Node || string(got.Request.Payload) != string(c.Request.Payload))) {
			t.Fatalf("round trip of %+v gave %+v", c, got)
		}
	}
	for _, bad := range []string{"", "{", `{"k":0}`, `{"k":9}`, `{"k":3,"e":"AAAA"}`, `[]`, `{"k":4}`} {
		if _, err := decodeControl([]byte(bad)); err == nil {
			t.Errorf("decodeControl(%q) succeeded", bad)
		}
	}
}

func FuzzDecodeControl(f *testing.F) {
	for _, c := range []*engine.Control{
		{Kind: engine.ControlDisconnect, Tenant: "t", User: "u", Reason: "r"},
		{Kind: engine.ControlDeliver, Event: &pb.Event{Id: "x"}},
	} {
		b, _ := encodeControl(c)
		f.Add(b)
	}
	f.Add([]byte(`{"k":1,"e":"////"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeControl(b)
		if err != nil {
			return
		}
		if _, err := encodeControl(c); err != nil {
			t.Fatalf("a decoded order does not encode: %v", err)
		}
	})
}

func TestParseEntry(t *testing.T) {
	ev := &pb.Event{Id: "1", Channel: "c", Offset: 3, Epoch: "e"}
	b, _ := proto.Marshal(ev)
	got, err := parseEntry("1700000000000:" + string(b))
	if err != nil || !proto.Equal(got, ev) {
		t.Fatalf("parseEntry = %v, %v", got, err)
	}
	for _, bad := range []string{"", ":", "x:", "12", "12:\xff\xff\xff"} {
		if _, err := parseEntry(bad); err == nil {
			t.Errorf("parseEntry(%q) succeeded", bad)
		}
	}
}

func FuzzParseEntry(f *testing.F) {
	b, _ := proto.Marshal(&pb.Event{Id: "1", Data: "{}"})
	f.Add("1:" + string(b))
	f.Add("1:")
	f.Add(":x")
	f.Fuzz(func(t *testing.T, s string) {
		parseEntry(s) // must not panic
	})
}

func TestPresenceEntryRoundTrip(t *testing.T) {
	s := &pb.Session{Id: "s", User: "u:with:colons", Tenant: "t", Info: "{}"}
	v, err := presenceEntry(s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := parsePresenceEntry(v)
	if err != nil || !proto.Equal(got, s) {
		t.Fatalf("parsePresenceEntry = %v, %v", got, err)
	}
	for _, bad := range []string{"", "x", ":", "5:ab", "-1:", "1:a\xff\xff"} {
		if _, err := parsePresenceEntry(bad); err == nil {
			t.Errorf("parsePresenceEntry(%q) succeeded", bad)
		}
	}
}

func FuzzParsePresenceEntry(f *testing.F) {
	v, _ := presenceEntry(&pb.Session{Id: "s", User: "u"})
	f.Add(v)
	f.Add("0:")
	f.Add("99:x")
	f.Fuzz(func(t *testing.T, v string) {
		parsePresenceEntry(v) // must not panic
	})
}
