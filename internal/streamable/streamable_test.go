package streamable_test

import (
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/streamable"
)

func TestFromEvent(t *testing.T) {
	at := timestamppb.New(timestamppb.Now().AsTime().Truncate(1e9))
	pub := &pb.Publisher{User: "u1", Client: "s1"}
	cases := []struct {
		name string
		ev   *pb.Event
		ok   bool
		want string // JSON of the StreamableEvent
	}{
		{"publication", &pb.Event{Id: "e1", Tenant: "t", Channel: "news", Name: "n", Key: "k", Data: `{"a":1}`, Publisher: pub, Time: at, Offset: 3}, true,
			`{"Actor":"u1","OwnerOrganizationID":"t","ResourceID":"k","Type":4900,"Timestamp":TS,"TypeString":"SEVT_HUB_EVENT","Data":{"ID":"e1","Tenant":"t","Channel":"news","Name":"n","Key":"k","User":"u1","Client":"s1","Data":{"a":1},"Offset":3}}`},
		{"connect", &pb.Event{Channel: "sys:sessions", Subject: "drp", Kind: pb.EventKind_EVENT_KIND_CONNECT, Data: `null`, Publisher: pub, Time: at}, true,
			`{"Actor":"u1","OwnerOrganizationID":"","ResourceID":"s1","Type":4910,"Timestamp":TS,"TypeString":"SEVT_SESSION_CONNECT","Data":{"Channel":"sys:sessions","Subject":"drp","User":"u1","Client":"s1","Data":null}}`},
		{"disconnect", &pb.Event{Channel: "sys:sessions", Kind: pb.EventKind_EVENT_KIND_DISCONNECT, Publisher: pub}, true,
			`{"Actor":"u1","OwnerOrganizationID":"","ResourceID":"s1","Type":4911,"TypeString":"SEVT_SESSION_DISCONNECT","Data":{"Channel":"sys:sessions","User":"u1","Client":"s1"}}`},
		{"offline", &pb.Event{Channel: "sys:users", Key: "u1", Kind: pb.EventKind_EVENT_KIND_OFFLINE}, true,
			`{"Actor":"","OwnerOrganizationID":"","ResourceID":"u1","Type":4913,"TypeString":"SEVT_USER_OFFLINE","Data":{"Channel":"sys:users","Key":"u1"}}`},
		{"join", &pb.Event{Channel: "sys:subscriptions", Key: "news", Kind: pb.EventKind_EVENT_KIND_JOIN}, true,
			`{"Actor":"","OwnerOrganizationID":"","ResourceID":"news","Type":4914,"TypeString":"SEVT_SUBSCRIBE","Data":{"Channel":"sys:subscriptions","Key":"news"}}`},
		{"admin login", &pb.Event{Channel: "sys:admin", Code: 4153, Key: "/p", Data: `{"Username":"a"}`, Publisher: &pb.Publisher{User: "a"}}, true,
			`{"Actor":"a","OwnerOrganizationID":"","ResourceID":"/p","Type":4153,"TypeString":"SEVT_ACCOUNT_ADMIN_LOGIN","Data":{"Username":"a"}}`},
		{"sys:admin without a SEVT code", &pb.Event{Channel: "sys:admin", Code: 7, Data: `1`}, false, ``},
		{"channel join announcement", &pb.Event{Channel: "news", Kind: pb.EventKind_EVENT_KIND_JOIN}, false, ``},
		{"wrong kind on sys:users", &pb.Event{Channel: "sys:users", Kind: pb.EventKind_EVENT_KIND_JOIN}, false, ``},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, ok := streamable.FromEvent(tc.ev)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v (%+v)", ok, tc.ok, e)
			}
			if !ok {
				return
			}
			want := tc.want
			if tc.ev.Time != nil {
				want = replace(want, "TS", tc.ev.Time.GetSeconds())
			}
			if got := string(e.Marshal()); got != want {
				t.Fatalf("got  %s\nwant %s", got, want)
			}
			// The proto round trip keeps the event.
			if got, w := string(streamable.FromProto(e.ToProto()).Marshal()), string(e.Marshal()); got != w {
				t.Fatalf("proto round trip: %s, want %s", got, w)
			}
		})
	}
}

func TestAllowList(t *testing.T) {
	if !streamable.AllowList(nil).Allows(4900) {
		t.Fatal("empty list refuses")
	}
	l := streamable.AllowList{4100, 4900}
	if !l.Allows(4900) || l.Allows(4000) {
		t.Fatal("list filters wrongly")
	}
}

func replace(s, old string, n int64) string {
	return strings.ReplaceAll(s, old, strconv.FormatInt(n, 10))
}
