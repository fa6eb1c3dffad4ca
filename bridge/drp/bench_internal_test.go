package drp

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// BenchmarkFilterMatch tests one event against 1,000 parsed filters of a
// socket-heavy deployment: wildcards, v4 lists and dotted keys.
func BenchmarkFilterMatch(b *testing.B) {
	texts := []string{"machines.*.*", "*.update,delete.*", "machines,leases.*.m%d", "jobs.create.*", "*.*.a.b.%d"}
	fs := make([]Filter, 1000)
	for i := range fs {
		t := texts[i%len(texts)]
		if i%len(texts) == 2 || i%len(texts) == 4 {
			t = fmt.Sprintf(t, i)
		}
		f, err := ParseFilter(t)
		if err != nil {
			b.Fatal(err)
		}
		fs[i] = f
	}
	b.ReportAllocs()
	matched := 0
	for b.Loop() {
		matched = 0
		for _, f := range fs {
			if f.Match("machines", "update", "m42") {
				matched++
			}
		}
	}
	b.ReportMetric(float64(matched), "matched/event")
}

// BenchmarkEncodeEvent is the per-event cost of the face's wire format,
// paid once per event and filter group, not per socket.
func BenchmarkEncodeEvent(b *testing.B) {
	ev := &pb.Event{
		Channel: "machines", Name: "update", Key: "m42",
		Data:      `{"Name":"m42","Address":"10.0.0.42","Runnable":true,"Params":{"a":1}}`,
		Time:      timestamppb.New(time.Date(2026, 11, 23, 10, 0, 0, 123456789, time.UTC)),
		Publisher: &pb.Publisher{User: "rocketskates"},
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := encodeEvent(ev); err != nil {
			b.Fatal(err)
		}
	}
}
