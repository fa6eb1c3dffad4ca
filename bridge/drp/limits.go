package drp

import pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"

// Bounds on what one socket's filter changes cost the core. A socket
// registering filter after filter moves to a new upstream group each time,
// and each move is one Subscribe call to the hub.
const (
	// hubMaxFilters and hubMaxFilterValues are the hub's limits on one
	// subscription (SubscribeRequest.filters in hub.proto): a larger set
	// goes to the catch-all group at once, without a call the hub would
	// refuse.
	hubMaxFilters      = 128
	hubMaxFilterValues = 1024
	// moveRate and moveBurst bound the socket's Subscribe calls: beyond
	// moveBurst at once, moveRate a second, and the socket's next frame
	// waits (its frames stay unread meanwhile).
	moveRate  = 50
	moveBurst = 64
)

// filterLocally logs, once per socket, why its filters are applied here;
// a client that goes on registering would otherwise log every frame.
func (s *socket) filterLocally(why string, err error) {
	if s.localLogged {
		s.log.Debug(why+"; filtering locally", "filters", len(s.texts), "err", err)
		return
	}
	s.localLogged = true
	s.log.Info(why+"; filtering locally (logged once per socket)", "filters", len(s.texts), "err", err)
}

// beyondHubLimits tells a request the hub refuses for its size
// (SubscribeRequest.filters in hub.proto).
func beyondHubLimits(req *pb.SubscribeRequest) bool {
	if len(req.GetFilters()) > hubMaxFilters {
		return true
	}
	for _, f := range req.GetFilters() {
		if len(f.GetChannels())+len(f.GetNames())+len(f.GetKeys()) > hubMaxFilterValues {
			return true
		}
	}
	return false
}
