package hub

import (
	"context"
	"fmt"

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
	if _, err := h.eng.Publish(ctx, ev, engine.HistoryOptions{}); err != nil {
		return fmt.Errorf("publish to %q: %w", ev.Channel, err)
	}
	h.published.Add(1)
	publishedTotal.Inc()
	if h.opts.Observer != nil {
		if err := h.opts.Observer.Published(ctx, ev); err != nil {
			return fmt.Errorf("publish to %q: %w: %w", ev.Channel, errObserver, err)
		}
	}
	return nil
}
