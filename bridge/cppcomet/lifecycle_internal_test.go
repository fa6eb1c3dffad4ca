package cppcomet

import (
	"encoding/json"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

func TestEncodeLifecycleEvent(t *testing.T) {
	at := time.Unix(1700000000, 0)
	session := `{"id":"s1","user":"5","client":"uuid-5","face":"cppcomet"}`
	ev := func(ch string, kind pb.EventKind, key, data string) *pb.Event {
		return &pb.Event{Channel: ch, Kind: kind, Key: key, Data: data, Time: timestamppb.New(at), Publisher: &pb.Publisher{User: "5", Client: "s1"}}
	}
	tests := []struct {
		name string
		ev   *pb.Event
		want string // "" = not shown
	}{
		{"online", ev("sys:users", pb.EventKind_EVENT_KIND_ONLINE, "12", session), `{"data":"online","event":"online","pipe":"user_status_12"}`},
		{"offline", ev("sys:users", pb.EventKind_EVENT_KIND_OFFLINE, "12", session), `{"data":"offline","event":"offline","pipe":"user_status_12"}`},
		{"track join", ev("sys:subscriptions", pb.EventKind_EVENT_KIND_JOIN, "track_x", session), `{"data":{"user_id":5,"uuid":"uuid-5"},"event":"subscription","message_send_time":1700000000,"pipe":"track_x"}`},
		{"track leave", ev("sys:subscriptions", pb.EventKind_EVENT_KIND_LEAVE, "track_x", session), `{"data":{"user_id":5,"uuid":"uuid-5"},"event":"unsubscription","message_send_time":1700000000,"pipe":"track_x"}`},
		{"track join, data not a session", ev("sys:subscriptions", pb.EventKind_EVENT_KIND_JOIN, "track_x", "null"), `{"data":{"user_id":5,"uuid":""},"event":"subscription","message_send_time":1700000000,"pipe":"track_x"}`},
		{"join of another pipe", ev("sys:subscriptions", pb.EventKind_EVENT_KIND_JOIN, "web_x", session), ""},
		{"connect", ev("sys:sessions", pb.EventKind_EVENT_KIND_CONNECT, "", session), ""},
		{"online without a user", ev("sys:users", pb.EventKind_EVENT_KIND_ONLINE, "", session), ""},
		{"join kind on sys:users", ev("sys:users", pb.EventKind_EVENT_KIND_JOIN, "12", session), ""},
		{"hub join_leave in the pipe", ev("track_x", pb.EventKind_EVENT_KIND_JOIN, "", "null"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(encodeEvent(tt.ev, Gen4, at)); got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// FuzzEncodeLifecycleEvent: whatever the data, an event is either not
// shown or one valid JSON frame.
func FuzzEncodeLifecycleEvent(f *testing.F) {
	f.Add("sys:subscriptions", int32(1), "track_x", `{"user":"5","client":"u"}`)
	f.Add("sys:users", int32(5), "12", "null")
	f.Add("sys:subscriptions", int32(2), "track_", `{"user":1}`)
	f.Fuzz(func(t *testing.T, channel string, kind int32, key, data string) {
		ev := &pb.Event{Channel: channel, Kind: pb.EventKind(kind), Key: key, Data: data}
		for _, gen := range []Generation{Gen4, Gen3, Gen1} {
			frame := encodeEvent(ev, gen, time.Unix(0, 0))
			if frame != nil && !json.Valid(frame) {
				t.Fatalf("invalid frame %q", frame)
			}
		}
	})
}
