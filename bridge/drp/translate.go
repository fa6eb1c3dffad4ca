package drp

import (
	"github.com/switchboard-hub/switchboard/bridge/fanout"
	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// Mapping (README "DRP" table, protocols/SUMMARY.md):
//
//	Type ↔ channel, Action ↔ name, Key ↔ key, Object ↔ data,
//	Original ↔ previous, Principal ↔ publisher.user, Time ↔ time.
//
// DRP has no tenants: every filter is in the default tenant "".

// ToPB translates a parsed filter into the core's Filter: an Any part
// becomes an empty list (any value, including ""), a list becomes its
// distinct alternatives. ok is false when the filter can never match (a part
// with only literal "*" alternatives, which pb.Filter cannot express; see
// Filter): such a filter adds nothing to the upstream subscription.
func ToPB(f Filter) (pf *pb.Filter, ok bool) {
	if !f.CanMatch() {
		return nil, false
	}
	return &pb.Filter{
		Channels: f.Type.matchable(),
		Names:    f.Action.matchable(),
		Keys:     f.Key.matchable(),
	}, true
}

// subscribeRequest builds the one upstream request for a socket's parsed
// filters. Never-matching filters are left out, and texts that translate to
// the same pb.Filter ("a.b.c", "a.b. c") are sent once. It returns nil when
// nothing can match: such a socket needs no upstream stream.
func subscribeRequest(parsed []Filter) *pb.SubscribeRequest {
	var filters []*pb.Filter
	seen := make(map[string]bool, len(parsed))
	for _, f := range parsed {
		pf, ok := ToPB(f)
		if !ok {
			continue
		}
		k := fanout.FilterSetKey([]*pb.Filter{pf})
		if seen[k] {
			continue
		}
		seen[k] = true
		filters = append(filters, pf)
	}
	if len(filters) == 0 {
		return nil
	}
	return &pb.SubscribeRequest{Filters: filters}
}

// catchAll is the request used when the hub refuses a socket's exact filter
// set (too many filters or values, an unknown namespace): one stream of every
// event of the default tenant, filtered per socket with Filter.Match.
func catchAll() *pb.SubscribeRequest {
	return &pb.SubscribeRequest{Filters: []*pb.Filter{{}}}
}
