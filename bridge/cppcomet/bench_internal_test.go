package cppcomet

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// BenchmarkEncodePipeEvent is the per-event cost of the comet wire format
// (4.x, 3.x and 1.x clients), paid once per event and pipe, not per socket.
func BenchmarkEncodePipeEvent(b *testing.B) {
	ev := &pb.Event{
		Channel: "web_chat", Name: "message",
		Data:      `"{\"text\":\"hello, everyone\",\"from\":\"Ann\"}"`,
		Time:      timestamppb.New(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)),
		Publisher: &pb.Publisher{User: "42"},
	}
	now := time.Now()
	for gen, name := range map[Generation]string{Gen4: "v4", Gen3: "v3", Gen1: "v1"} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				encodePipeEvent(ev, gen, now)
			}
		})
	}
}
