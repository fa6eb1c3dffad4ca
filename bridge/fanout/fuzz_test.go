package fanout_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/switchboard-hub/switchboard/bridge/fanout"
	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// FuzzFilterSetKey checks the key's canonical-form promises on arbitrary
// values: reordering lists and filters, duplicating values or whole filters
// never changes the key, and a value never collides with a different value.
func FuzzFilterSetKey(f *testing.F) {
	f.Add("t", "a,b", "s", "n", "k", "x", int32(4000))
	f.Add("", "*", "", "", "", "", int32(0))
	f.Add("*", `a";c=*`, "|", ",", "\x00", "a|t=", int32(-1))
	f.Fuzz(func(t *testing.T, tenant, channels, subject, name, key, other string, code int32) {
		chs := strings.Split(channels, ",")
		a := &pb.Filter{Tenant: tenant, Channels: chs, Subjects: []string{subject}, Names: []string{name}, Keys: []string{key}, Codes: []int32{code, 7}}
		rev := slices.Clone(chs)
		slices.Reverse(rev)
		b := &pb.Filter{Tenant: tenant, Channels: append(rev, chs...), Subjects: []string{subject, subject}, Names: []string{name}, Keys: []string{key}, Codes: []int32{7, code, code}}
		x := &pb.Filter{Channels: []string{other}}

		k1 := fanout.FilterSetKey([]*pb.Filter{a, x})
		k2 := fanout.FilterSetKey([]*pb.Filter{x, b, a})
		if k1 != k2 {
			t.Fatalf("equal sets, different keys:\n%s\n%s", k1, k2)
		}
		// A single concrete channel value differs from another one.
		if other != "*" && channels != "*" && !strings.Contains(channels, ",") && other != channels {
			ka := fanout.FilterSetKey([]*pb.Filter{{Channels: []string{channels}}})
			kb := fanout.FilterSetKey([]*pb.Filter{{Channels: []string{other}}})
			if ka == kb {
				t.Fatalf("channels %q and %q share key %q", channels, other, ka)
			}
		}
	})
}
