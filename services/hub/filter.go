package hub

import (
	"fmt"
	"slices"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/services/engine"
)

// Limits on one subscription's filters, so a single request cannot make
// every publish expensive.
const (
	maxFilters      = 128
	maxFilterValues = 1024
)

// Match reports whether ev matches f. A list that is empty or holds "*"
// matches any value, including an empty one; otherwise the event's value
// must equal one of the listed values exactly. The channels of the
// reserved sys namespace match only a filter that names them.
func Match(f *pb.Filter, ev *pb.Event) bool {
	return tenantMatch(f.GetTenant(), ev.GetTenant()) &&
		channelMatch(f.GetChannels(), ev.GetChannel()) &&
		anyOf(f.GetSubjects(), ev.GetSubject()) &&
		anyOf(f.GetNames(), ev.GetName()) &&
		anyOf(f.GetKeys(), ev.GetKey()) &&
		(len(f.GetCodes()) == 0 || slices.Contains(f.GetCodes(), ev.GetCode()))
}

func tenantMatch(filter, tenant string) bool {
	return filter == engine.AllTenants || filter == tenant
}

func anyOf(list []string, v string) bool {
	if len(list) == 0 {
		return true
	}
	for _, s := range list {
		if s == v || s == "*" {
			return true
		}
	}
	return false
}

// exactChannels returns the channels f is limited to, or nil when f matches
// any channel.
func exactChannels(f *pb.Filter) []string {
	if len(f.GetChannels()) == 0 || slices.Contains(f.GetChannels(), "*") {
		return nil
	}
	return f.GetChannels()
}

// validateFilters checks a subscription's filters.
func validateFilters(fs []*pb.Filter) error {
	if len(fs) == 0 {
		return invalid("filters", "at least one filter is required")
	}
	if len(fs) > maxFilters {
		return invalid("filters", "at most %d filters", maxFilters)
	}
	for i, f := range fs {
		field := fmt.Sprintf("filters[%d]", i)
		if f == nil {
			return invalid(field, "filter is empty")
		}
		n := len(f.Channels) + len(f.Subjects) + len(f.Names) + len(f.Keys) + len(f.Codes)
		if n > maxFilterValues {
			return invalid(field, "at most %d values per filter", maxFilterValues)
		}
		for j, ch := range f.Channels {
			if ch == "*" {
				continue
			}
			if err := validChannel(fmt.Sprintf("%s.channels[%d]", field, j), ch); err != nil {
				return err
			}
		}
	}
	return nil
}
