package hub

import (
	"fmt"
	"testing"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// manyFilters returns n filters of the shapes faces subscribe with: exact
// channels, channel wildcards with name or key lists (DRP "type.*.*",
// "*.update,delete.*"), and lists that never match the benchmark's event.
func manyFilters(n int) []*pb.Filter {
	fs := make([]*pb.Filter, n)
	for i := range fs {
		switch i % 4 {
		case 0:
			fs[i] = &pb.Filter{Channels: []string{fmt.Sprintf("machines-%d", i)}}
		case 1:
			fs[i] = &pb.Filter{Channels: []string{"*"}, Names: []string{"update", "delete"}}
		case 2:
			fs[i] = &pb.Filter{Channels: []string{"machines", "leases", "jobs"}, Keys: []string{fmt.Sprintf("m%d", i), "*"}}
		default:
			fs[i] = &pb.Filter{Channels: []string{"machines"}, Names: []string{"create"}, Keys: []string{fmt.Sprintf("m%d", i)}}
		}
	}
	return fs
}

// BenchmarkMatch offers one event to 10,000 filters; ns/op is per event,
// so ns/op / 10,000 is the cost of one filter test.
func BenchmarkMatch(b *testing.B) {
	fs := manyFilters(10_000)
	ev := &pb.Event{Channel: "machines", Name: "update", Key: "m42"}
	b.ReportAllocs()
	matched := 0
	for b.Loop() {
		matched = 0
		for _, f := range fs {
			if Match(f, ev) {
				matched++
			}
		}
	}
	b.ReportMetric(float64(matched), "matched/event")
}
