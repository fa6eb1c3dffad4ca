package drp

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/switchboard-hub/switchboard/bridge/fanout"
	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// handle runs one client frame: update the filter set, move the upstream
// subscription if the set changed, then acknowledge. The ack comes after
// the new subscription is live, so an event published after the client
// sees its ack is never missed.
func (s *socket) handle(frame []byte) {
	if s.closing {
		return
	}
	cmd, err := ParseCommand(frame)
	if err != nil {
		// DRP logs and ignores such frames; the connection stays open.
		s.log.Debug("frame ignored", "err", err)
		return
	}
	if cmd.Verb == Register && len(s.texts) >= maxFilters && !slices.Contains(s.texts, cmd.Filter) {
		s.log.Info("websocket closed", "reason", reasonTooManyFilters, "filters", len(s.texts))
		s.closing = true
		s.conn.Close(closeTooManyFilters, reasonTooManyFilters)
		return
	}
	if s.apply(cmd) {
		if err := s.resubscribe(); err != nil {
			s.log.Warn("websocket closed", "reason", reasonUnavailable, "err", err)
			s.closing = true
			s.closeUnavailable(reasonUnavailable)
			return
		}
		s.sess.syncPresence(s.parsedFilters())
	}
	ack, err := encodeAck(cmd.Verb, cmd.Filter, time.Now())
	if err != nil {
		s.log.Error("ack not sent", "err", err)
		return
	}
	s.conn.Send(ack)
}

// apply changes the stored texts; it reports whether they changed.
// register adds the text unless stored already; deregister removes the
// identical text only (drp.md §3.1, §6.4).
func (s *socket) apply(cmd Command) bool {
	i := slices.Index(s.texts, cmd.Filter)
	switch cmd.Verb {
	case Register:
		if i >= 0 {
			return false
		}
		s.texts = append(s.texts, cmd.Filter)
		if f, err := ParseFilter(cmd.Filter); err == nil {
			s.filters[cmd.Filter] = f
		} else {
			s.log.Debug("filter never matches", "err", err)
		}
		return true
	case Deregister:
		if i < 0 {
			return false
		}
		s.texts = slices.Delete(s.texts, i, i+1)
		delete(s.filters, cmd.Filter)
		return true
	}
	return false
}

// parsedFilters returns the parsed filters in registration order.
func (s *socket) parsedFilters() []Filter {
	out := make([]Filter, 0, len(s.filters))
	for _, t := range s.texts {
		if f, ok := s.filters[t]; ok {
			out = append(out, f)
		}
	}
	return out
}

// resubscribe moves the socket to the upstream group of its current filter
// set. The new group is joined first; the old membership then drains for
// drainTime (filtered by the new set, duplicates dropped by event id) and
// is left (fanout.Mover). A socket with nothing that can match joins no
// group.
func (s *socket) resubscribe() error {
	parsed := s.parsedFilters()
	// Local filtering follows the new set from now on.
	s.current.Store(&parsed)
	req := subscribeRequest(parsed)
	key := ""
	if req != nil {
		key = fanout.FilterSetKey(req.Filters)
	}
	if key == s.wantKey {
		return nil // the same events as before: stay in the group
	}
	if req == nil {
		s.groups.Clear()
		s.wantKey = key
		return nil
	}
	if err := s.groups.Move(func() (*fanout.Membership, error) { return s.join(key, req) }); err != nil {
		if errors.Is(err, fanout.ErrUpstreamEnded) {
			return fmt.Errorf("drp: %w", err)
		}
		return err
	}
	s.wantKey = key
	return nil
}

// join subscribes a new membership to the group for req; nil when the socket
// may read none of the Types the set names. A set beyond the hub's limits
// for one subscription, or one the hub refuses (a channel in an unknown
// namespace), joins the catch-all group instead and is filtered here.
func (s *socket) join(key string, req *pb.SubscribeRequest) (*fanout.Membership, error) {
	if beyondHubLimits(req) {
		// The hub would refuse it: no need to ask.
		s.filterLocally("filter set beyond the hub's limits", nil)
		return s.joinCatchAll()
	}
	ctx := s.conn.Context()
	if err := s.moves.Wait(ctx); err != nil {
		return nil, fmt.Errorf("drp: subscribe: %w", err)
	}
	m, err := s.groups.Subscribe(ctx, key, req, encodeEvent, false)
	if errors.Is(err, fanout.ErrNotReadable) {
		// Every Type the set names is limited to others: nothing to
		// deliver, so no group (DRP filters such events out silently).
		return nil, nil
	}
	if err != nil && refusedByHub(err) {
		s.filterLocally("filter set refused by the hub", err)
		return s.joinCatchAll()
	}
	if err != nil {
		return nil, fmt.Errorf("drp: subscribe: %w", err)
	}
	return m, nil
}

// joinCatchAll joins the group of every event of the default tenant, whose
// events the socket filters itself; a socket already there stays (its
// current member is returned).
func (s *socket) joinCatchAll() (*fanout.Membership, error) {
	if cur := s.groups.Current(); cur != nil && cur.Local() {
		return cur, nil // already there
	}
	ctx := s.conn.Context()
	if err := s.moves.Wait(ctx); err != nil {
		return nil, fmt.Errorf("drp: subscribe: %w", err)
	}
	all := catchAll()
	m, err := s.groups.Subscribe(ctx, fanout.FilterSetKey(all.Filters), all, encodeEvent, true)
	if err != nil {
		return nil, fmt.Errorf("drp: subscribe: %w", err)
	}
	return m, nil
}
