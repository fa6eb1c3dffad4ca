package hub

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/services/engine"
)

var gapsTotal = promauto.NewCounter(prometheus.CounterOpts{
	Name: "switchboard_hub_gap_streams_total",
	Help: "Subscription streams ended with DATA_LOSS because events were lost while the engine link was down.",
})

// HandleGap implements engine.Handler: the engine lost events of a channel
// (or of every channel of a tenant) that it could not recover from history.
// Every local stream that could have wanted one of them ends with DATA_LOSS
// and a StreamGap detail, so that its client reads history and resubscribes
// instead of going on with a silent hole. Never silent: a stream either
// received every event or is told.
func (h *Hub) HandleGap(g *engine.Gap) {
	if g.Unnumbered && g.Channel != engine.AllChannels {
		// No event with an offset was missed: only a channel that keeps
		// no history can have lost one (its events carry offset 0).
		if o, err := h.optionsFor(g.Channel); err == nil && o.history.Enabled() {
			return
		}
	}
	err := gapError(g)
	n := 0
	for _, st := range h.disp.gapStreams(g.Tenant, g.Channel) {
		if st.mux != nil {
			h.endSub(st, err)
		} else {
			st.end(err)
		}
		n++
	}
	if n > 0 {
		gapsTotal.Add(float64(n))
		h.log.Warn("streams ended: events lost while the engine link was down",
			"tenant", g.Tenant, "channel", g.Channel, "streams", n, "from", g.From.String(), "to", g.To.String())
	}
}

// gapError is the status a stream ends with after a gap: DATA_LOSS with
// the positions in the message and as a StreamGap detail.
func gapError(g *engine.Gap) error {
	msg := fmt.Sprintf("events lost: tenant %q channel %q from %s to %s; read history and resubscribe",
		g.Tenant, g.Channel, positionText(g.From), positionText(g.To))
	st := status.New(codes.DataLoss, msg)
	if d, err := st.WithDetails(&pb.StreamGap{Tenant: g.Tenant, Channel: g.Channel, From: g.From, To: g.To}); err == nil {
		st = d
	}
	return st.Err()
}

func positionText(p *pb.StreamPosition) string {
	if p == nil {
		return "unknown"
	}
	return fmt.Sprintf("offset %d epoch %q", p.Offset, p.Epoch)
}

// isGap reports whether a stream ended because of a gap: what it had
// queued before is still sent, so that the client has everything up to the
// gap's From.
func isGap(err error) bool { return status.Code(err) == codes.DataLoss }

// gapStreams returns the streams that could have received an event of the
// channel (AllChannels: of any channel of the tenant; with AllTenants: of
// any tenant).
func (d *dispatcher) gapStreams(tenant, channel string) []*stream {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var out []*stream
	if tenant == engine.AllTenants {
		for _, set := range d.wild {
			for s := range set {
				out = append(out, s)
			}
		}
		return out
	}
	if channel == engine.AllChannels {
		for _, t := range [...]string{tenant, engine.AllTenants} {
			for s := range d.wild[t] {
				out = append(out, s)
			}
		}
		return out
	}
	for s := range d.exact[chanKey{tenant, channel}] {
		out = append(out, s)
	}
	for _, t := range [...]string{tenant, engine.AllTenants} {
		for s := range d.wild[t] {
			if s.coversChannel(tenant, channel) {
				out = append(out, s)
			}
		}
	}
	return out
}

// coversChannel reports whether some filter of s lets events of the
// channel through (whatever their other fields).
func (s *stream) coversChannel(tenant, channel string) bool {
	for _, f := range s.filters {
		if tenantMatch(f.GetTenant(), tenant) && anyOf(f.GetChannels(), channel) {
			return true
		}
	}
	return false
}
