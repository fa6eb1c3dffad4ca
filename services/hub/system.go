package hub

import (
	"context"

	"google.golang.org/protobuf/proto"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/services/engine"
)

// PublishSystem publishes an event the core itself raises on a reserved
// "sys:" channel (administrator logins on sys:admin, for instance): through
// the engine to every node like any publish, without history, and without
// the namespace lookup that client publishes go through.
func (h *Hub) PublishSystem(ctx context.Context, ev *pb.Event) error {
	ev = proto.Clone(ev).(*pb.Event)
	ev.To = nil
	ev.Offset, ev.Epoch = 0, ""
	_, err := h.publishEvent(ctx, ev, engine.HistoryOptions{})
	return err
}
