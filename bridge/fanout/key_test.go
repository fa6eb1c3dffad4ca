package fanout_test

import (
	"testing"

	"github.com/switchboard-hub/switchboard/bridge/fanout"
	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

func TestFilterSetKeyEqualSets(t *testing.T) {
	tests := []struct {
		name string
		a, b []*pb.Filter
	}{
		{"list order", []*pb.Filter{{Channels: []string{"a", "b"}}}, []*pb.Filter{{Channels: []string{"b", "a"}}}},
		{"duplicates", []*pb.Filter{{Names: []string{"x", "x"}}}, []*pb.Filter{{Names: []string{"x"}}}},
		{"star is any", []*pb.Filter{{Keys: []string{"*"}}}, []*pb.Filter{{}}},
		{"star among values is any", []*pb.Filter{{Subjects: []string{"a", "*"}}}, []*pb.Filter{{}}},
		{"filter order", []*pb.Filter{{Channels: []string{"a"}}, {Channels: []string{"b"}}}, []*pb.Filter{{Channels: []string{"b"}}, {Channels: []string{"a"}}}},
		{"duplicate filters", []*pb.Filter{{Channels: []string{"a"}}, {Channels: []string{"a"}}}, []*pb.Filter{{Channels: []string{"a"}}}},
		{"code order", []*pb.Filter{{Codes: []int32{4001, 4000, 4001}}}, []*pb.Filter{{Codes: []int32{4000, 4001}}}},
		{"nil filter is the empty filter", []*pb.Filter{nil}, []*pb.Filter{{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if ka, kb := fanout.FilterSetKey(tt.a), fanout.FilterSetKey(tt.b); ka != kb {
				t.Fatalf("keys differ:\n%s\n%s", ka, kb)
			}
		})
	}
}

func TestFilterSetKeyDifferentSets(t *testing.T) {
	sets := map[string][]*pb.Filter{
		"nothing":          nil,
		"any":              {{}},
		"channel a":        {{Channels: []string{"a"}}},
		"channel b":        {{Channels: []string{"b"}}},
		"channels a,b":     {{Channels: []string{"a", "b"}}},
		"two filters a|b":  {{Channels: []string{"a"}}, {Channels: []string{"b"}}},
		"subject a":        {{Subjects: []string{"a"}}},
		"name a":           {{Names: []string{"a"}}},
		"key a":            {{Keys: []string{"a"}}},
		"code 1":           {{Codes: []int32{1}}},
		"code 11":          {{Codes: []int32{11}}},
		"tenant t":         {{Tenant: "t"}},
		"all tenants":      {{Tenant: "*"}},
		"comma in value":   {{Channels: []string{"a,b"}}},
		"quote in value":   {{Channels: []string{`a";c=*`}}},
		"pipe in value":    {{Channels: []string{"a|t="}}},
		"empty value":      {{Channels: []string{""}}},
		"channel a tenant": {{Channels: []string{"a"}, Tenant: "t"}},
	}
	seen := map[string]string{}
	for name, set := range sets {
		k := fanout.FilterSetKey(set)
		if other, dup := seen[k]; dup {
			t.Fatalf("%q and %q share key %q", name, other, k)
		}
		seen[k] = name
	}
}
