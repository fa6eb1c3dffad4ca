package hub_test

import (
	"testing"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/services/hub"
)

// The filter rule: each list is any-of; an empty list or "*" matches any
// value, including an empty one; a concrete value matches only itself;
// tenant "*" matches every tenant, and an empty tenant only the default.
func TestMatch(t *testing.T) {
	ev := &pb.Event{Tenant: "t", Channel: "machines", Subject: "s", Name: "update", Key: "m1", Code: 7}
	bare := &pb.Event{Channel: "machines"} // default tenant, empty name/key/subject, code 0
	tests := []struct {
		name string
		f    *pb.Filter
		ev   *pb.Event
		want bool
	}{
		{"empty filter, default tenant", &pb.Filter{}, bare, true},
		{"empty filter, other tenant", &pb.Filter{}, ev, false},
		{"tenant", &pb.Filter{Tenant: "t"}, ev, true},
		{"other tenant", &pb.Filter{Tenant: "u"}, ev, false},
		{"every tenant", &pb.Filter{Tenant: "*"}, ev, true},
		{"every tenant, default tenant", &pb.Filter{Tenant: "*"}, bare, true},
		{"channel", &pb.Filter{Tenant: "t", Channels: []string{"machines"}}, ev, true},
		{"channel any-of", &pb.Filter{Tenant: "t", Channels: []string{"leases", "machines"}}, ev, true},
		{"other channel", &pb.Filter{Tenant: "t", Channels: []string{"leases"}}, ev, false},
		{"channel prefix is not a match", &pb.Filter{Tenant: "t", Channels: []string{"machine"}}, ev, false},
		{"channel *", &pb.Filter{Tenant: "t", Channels: []string{"*"}}, ev, true},
		{"* among values", &pb.Filter{Tenant: "t", Names: []string{"create", "*"}}, ev, true},
		{"name", &pb.Filter{Tenant: "t", Names: []string{"update"}}, ev, true},
		{"other name", &pb.Filter{Tenant: "t", Names: []string{"create"}}, ev, false},
		{"name is case-sensitive", &pb.Filter{Tenant: "t", Names: []string{"Update"}}, ev, false},
		{"* matches an empty name", &pb.Filter{Names: []string{"*"}}, bare, true},
		{"a concrete name does not match an empty one", &pb.Filter{Names: []string{"update"}}, bare, false},
		{"empty string value matches an empty name", &pb.Filter{Names: []string{""}}, bare, true},
		{"key", &pb.Filter{Tenant: "t", Keys: []string{"m1"}}, ev, true},
		{"other key", &pb.Filter{Tenant: "t", Keys: []string{"m2"}}, ev, false},
		{"subject", &pb.Filter{Tenant: "t", Subjects: []string{"s"}}, ev, true},
		{"other subject", &pb.Filter{Tenant: "t", Subjects: []string{"x"}}, ev, false},
		{"code", &pb.Filter{Tenant: "t", Codes: []int32{1, 7}}, ev, true},
		{"other code", &pb.Filter{Tenant: "t", Codes: []int32{1}}, ev, false},
		{"code 0 listed", &pb.Filter{Codes: []int32{0}}, bare, true},
		{"every field", &pb.Filter{Tenant: "t", Channels: []string{"machines"}, Subjects: []string{"s"}, Names: []string{"update"}, Keys: []string{"m1"}, Codes: []int32{7}}, ev, true},
		{"every field but one", &pb.Filter{Tenant: "t", Channels: []string{"machines"}, Subjects: []string{"s"}, Names: []string{"update"}, Keys: []string{"m2"}, Codes: []int32{7}}, ev, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := hub.Match(tt.f, tt.ev); got != tt.want {
				t.Fatalf("Match(%v, %v) = %v, want %v", tt.f, tt.ev, got, tt.want)
			}
		})
	}
}
