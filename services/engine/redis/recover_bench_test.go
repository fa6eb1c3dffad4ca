package redis

import (
	"strconv"
	"testing"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/services/engine"
)

type nopHandler struct{}

func (nopHandler) HandleEvent(*pb.Event)         {}
func (nopHandler) HandleControl(*engine.Control) {}
func (nopHandler) HandleGap(*engine.Gap)         {}

// BenchmarkDeliverBookkeeping is the cost the recovery adds to each event
// a node receives: the position of its channel (one of 10,000) is updated
// on the way to the handler. "direct" is the handler call alone.
func BenchmarkDeliverBookkeeping(b *testing.B) {
	e := &Engine{n: newNames("bench")}
	e.link = newLink(e)
	e.handler.Store(&handlerBox{h: nopHandler{}})
	const channels = 10000
	names := make([]string, channels)
	for i := range names {
		ch := "c" + strconv.Itoa(i)
		names[i] = e.n.event("t", ch)
		e.link.pos[names[i]] = &chanPos{tenant: "t", channel: ch, epoch: "epoch"}
	}
	ev := &pb.Event{Tenant: "t", Epoch: "epoch"}
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ev.Offset++
			if h := e.handler.Load(); h != nil {
				h.h.HandleEvent(ev)
			}
		}
	})
	b.Run("bookkeeping", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			ev.Offset++
			e.link.deliver(names[i%channels], true, ev)
			i++
		}
	})
}
