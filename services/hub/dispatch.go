package hub

import (
	"context"
	"sync"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/services/engine"
)

// chanKey names a channel of a tenant.
type chanKey struct{ tenant, channel string }

// dispatcher is this node's index of live streams. A stream whose filters
// all name exact channels of one tenant is indexed under each of those
// channels; any other stream sits in the wildcard set of its tenant (or of
// every tenant). Each stream is in exactly one of the two, so an event
// reaches a stream at most once.
type dispatcher struct {
	eng engine.Broker

	mu    sync.RWMutex
	exact map[chanKey]map[*stream]struct{}
	wild  map[string]map[*stream]struct{} // tenant (or AllTenants) → streams

	subMu sync.Mutex      // serializes engine Subscribe/Unsubscribe with refs
	refs  map[chanKey]int // engine subscriptions held, by channel
}

func newDispatcher(eng engine.Broker) *dispatcher {
	return &dispatcher{
		eng:   eng,
		exact: map[chanKey]map[*stream]struct{}{},
		wild:  map[string]map[*stream]struct{}{},
		refs:  map[chanKey]int{},
	}
}

// placement returns where a stream goes: its exact channels, or the tenant
// of its wildcard set.
func placement(filters []*pb.Filter) (keys []chanKey, wildTenant string) {
	tenant := filters[0].GetTenant()
	for _, f := range filters {
		if f.GetTenant() != tenant || tenant == engine.AllTenants {
			return nil, engine.AllTenants
		}
		chs := exactChannels(f)
		if chs == nil {
			return nil, tenant
		}
		for _, ch := range chs {
			keys = append(keys, chanKey{tenant, ch})
		}
	}
	return keys, ""
}

// engineKeys are the engine subscriptions a placement needs.
func engineKeys(keys []chanKey, wildTenant string) []chanKey {
	if keys == nil {
		return []chanKey{{wildTenant, engine.AllChannels}}
	}
	return keys
}

// add indexes s and makes sure the engine delivers its channels to this
// node. When add returns, no later publish on those channels is missed.
func (d *dispatcher) add(ctx context.Context, s *stream) error {
	keys, wildTenant := placement(s.filters)
	d.mu.Lock()
	if keys == nil {
		set := d.wild[wildTenant]
		if set == nil {
			set = map[*stream]struct{}{}
			d.wild[wildTenant] = set
		}
		set[s] = struct{}{}
	} else {
		for _, k := range keys {
			set := d.exact[k]
			if set == nil {
				set = map[*stream]struct{}{}
				d.exact[k] = set
			}
			set[s] = struct{}{}
		}
	}
	d.mu.Unlock()

	d.subMu.Lock()
	defer d.subMu.Unlock()
	ek := dedupe(engineKeys(keys, wildTenant))
	for i, k := range ek {
		if d.refs[k] == 0 {
			if err := d.eng.Subscribe(ctx, k.tenant, k.channel); err != nil {
				d.releaseLocked(ek[:i])
				d.unindex(s, keys, wildTenant)
				return err
			}
		}
		d.refs[k]++
	}
	return nil
}

// remove undoes add.
func (d *dispatcher) remove(s *stream) {
	keys, wildTenant := placement(s.filters)
	d.unindex(s, keys, wildTenant)
	d.release(keys, wildTenant)
}

// release drops the engine subscriptions of a placement that unindex took
// out of the index.
func (d *dispatcher) release(keys []chanKey, wildTenant string) {
	d.subMu.Lock()
	defer d.subMu.Unlock()
	d.releaseLocked(dedupe(engineKeys(keys, wildTenant)))
}

func (d *dispatcher) unindex(s *stream, keys []chanKey, wildTenant string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if keys == nil {
		delete(d.wild[wildTenant], s)
		if len(d.wild[wildTenant]) == 0 {
			delete(d.wild, wildTenant)
		}
		return
	}
	for _, k := range keys {
		delete(d.exact[k], s)
		if len(d.exact[k]) == 0 {
			delete(d.exact, k)
		}
	}
}

func (d *dispatcher) releaseLocked(keys []chanKey) {
	for _, k := range keys {
		d.refs[k]--
		if d.refs[k] <= 0 {
			delete(d.refs, k)
			// A failed unsubscribe only costs events this node drops.
			_ = d.eng.Unsubscribe(context.Background(), k.tenant, k.channel)
		}
	}
}

func dedupe(keys []chanKey) []chanKey {
	seen := make(map[chanKey]bool, len(keys))
	out := keys[:0:0]
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// dispatch offers ev to every matching local stream that may read it and
// returns how many took it. The response, with the event's audience, is
// built once and shared by every stream; a multiplexed stream (mux.go) gets
// the event once, with the ids of all its subscriptions that match.
func (d *dispatcher) dispatch(ev *pb.Event) int {
	msg := eventMessage(ev)
	n := 0
	var hits []muxHit
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, set := range [...]map[*stream]struct{}{d.exact[chanKey{ev.Tenant, ev.Channel}], d.wild[ev.Tenant], d.wild[engine.AllTenants]} {
		for s := range set {
			switch {
			case !s.matches(ev, msg.Audience):
			case s.mux != nil:
				hits = addHit(hits, s)
			case s.offer(msg):
				n++
			}
		}
	}
	for _, hit := range hits {
		it := &pb.MuxItem{Subscriptions: hit.ids, Payload: &pb.MuxItem_Event{Event: ev}, Audience: msg.Audience}
		if hit.m.offer(it) {
			n += len(hit.ids)
		}
	}
	return n
}

// count returns the number of indexed streams and exact channels.
func (d *dispatcher) count() (streams, channels int) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	seen := map[*stream]bool{}
	for _, set := range d.exact {
		for s := range set {
			seen[s] = true
		}
	}
	for _, set := range d.wild {
		for s := range set {
			seen[s] = true
		}
	}
	return len(seen), len(d.exact)
}
