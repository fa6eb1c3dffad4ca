package fanout

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/access"
)

// A Mover keeps one socket in one fan-out group at a time and moves it to
// another group, without a gap, when what the socket wants changes: the new
// group is joined first; the previous one stays live for the drain time
// (events already in flight on the old stream when the new one started are
// only on the old stream) and is left afterwards. Meanwhile an event that
// arrives on both is delivered once, by its id, and the two groups' events
// may interleave out of publish order (each group keeps its own order).
// The drain bounds how long an event may take from the hub to the face; it
// costs one extra stream for that long, never a delay.
//
// Moves are made by one goroutine (the socket's read loop); deliveries come
// from the groups' goroutines concurrently.
type Mover struct {
	f     *Fanout
	face  string
	sink  MoverSink
	drain time.Duration

	mu       sync.Mutex
	cur      *Membership                 // the live membership; nil when in no group
	draining map[*Membership]*time.Timer // previous memberships, until the drain has passed
	dedup    dedupWindow
	ended    bool
}

// MoverSink is the socket behind a Mover. A sink that also implements
// Reader reads as its reader in every group it joins.
type MoverSink interface {
	// Wants reports whether the socket takes ev. local is set when the
	// group streams more than the socket asked for (a catch-all group, or
	// a previous group while it drains): the socket filters by what it
	// wants now. It must not block.
	Wants(ev *pb.Event, local bool) bool
	// Send queues one shared frame on the socket; it must not block and
	// must not modify the frame.
	Send(frame []byte)
	// UpstreamClosed reports that the live group's stream ended (a draining
	// group's end only ends its drain). It must not block.
	UpstreamClosed(err error)
}

// Dedup bounds: the event ids one socket remembers while two groups
// overlap, and how many deliveries after the overlap are still checked
// against them (the new stream may lag the old one).
const (
	dedupMax  = 8192
	dedupTail = 1024
)

// NewMover returns a Mover for sink in face's groups of f; drain is how long
// a previous group stays live after a move.
func (f *Fanout) NewMover(face string, sink MoverSink, drain time.Duration) *Mover {
	return &Mover{f: f, face: face, sink: sink, drain: drain, draining: make(map[*Membership]*time.Timer)}
}

// Membership is one Mover's membership of one group: the Sink the group
// sees.
type Membership struct {
	mv     *Mover
	cancel func()
	// local: the group streams more than the socket wants.
	local    bool
	draining atomic.Bool
	retired  atomic.Bool
	gone     bool // the group's stream ended; guarded by mv.mu
}

// Local reports whether the group streams more than the socket wants (see
// Subscribe).
func (m *Membership) Local() bool { return m.local }

// Deliver implements Sink.
func (m *Membership) Deliver(ev *pb.Event, frame []byte) { m.mv.deliver(m, ev, frame) }

// UpstreamClosed implements Sink.
func (m *Membership) UpstreamClosed(err error) { m.mv.upstreamClosed(m, err) }

// ReadsAs implements Reader with the sink's reader.
func (m *Membership) ReadsAs() access.Reader {
	if r, ok := m.mv.sink.(Reader); ok {
		return r.ReadsAs()
	}
	return access.Reader{}
}

// retire stops delivery through m at once (the group may call Deliver a
// moment after cancel) and leaves the group. It is idempotent.
func (m *Membership) retire() {
	m.retired.Store(true)
	if m.cancel != nil {
		m.cancel()
	}
}

// Subscribe joins a new membership to the group (key, req, enc) as
// Fanout.Subscribe does, and returns its error as it is (ErrNotReadable,
// the hub's status). The membership is not live until Move makes it so.
// local marks a group that streams more than the socket wants.
func (mv *Mover) Subscribe(ctx context.Context, key string, req *pb.SubscribeRequest, enc Encoder, local bool) (*Membership, error) {
	m := &Membership{mv: mv, local: local}
	cancel, err := mv.f.Subscribe(ctx, mv.face, key, req, enc, m)
	if err != nil {
		return nil, err
	}
	m.cancel = cancel
	return m, nil
}

// Current returns the live membership, or nil.
func (mv *Mover) Current() *Membership {
	mv.mu.Lock()
	defer mv.mu.Unlock()
	return mv.cur
}

// Move makes the membership join returns the live one. join subscribes
// (with Subscribe); it returns nil for no group, or the current membership
// to stay where the socket is. The previous membership drains, or is left
// at once when there is no new one. Move fails when join does, or when the
// new group's stream ended while joining (ErrUpstreamEnded).
func (mv *Mover) Move(join func() (*Membership, error)) error {
	mv.mu.Lock()
	old := mv.cur
	if old != nil {
		// Before joining: the new group may deliver at once.
		mv.dedup.start()
	}
	mv.mu.Unlock()

	next, err := join()
	if err != nil {
		return err
	}
	if next != nil && next == old {
		// Still in the same group: nothing moves.
		mv.mu.Lock()
		if len(mv.draining) == 0 {
			mv.dedup.tail(dedupTail)
		}
		mv.mu.Unlock()
		return nil
	}
	return mv.swap(old, next)
}

// Clear leaves the live group without joining another: nothing is left to
// deliver, so there is no drain.
func (mv *Mover) Clear() {
	mv.mu.Lock()
	old := mv.cur
	mv.mu.Unlock()
	_ = mv.swap(old, nil)
}

func (mv *Mover) swap(old, next *Membership) error {
	drain := old != nil && next != nil
	mv.mu.Lock()
	mv.cur = next
	gone := next != nil && next.gone
	if drain && !mv.ended {
		old.draining.Store(true)
		mv.draining[old] = time.AfterFunc(mv.drain, func() { mv.endDrain(old) })
	}
	mv.mu.Unlock()
	if old != nil && (!drain || mv.isEnded()) {
		old.retire()
	}
	if gone {
		return fmt.Errorf("fanout: upstream ended while joining: %w", ErrUpstreamEnded)
	}
	return nil
}

func (mv *Mover) isEnded() bool {
	mv.mu.Lock()
	defer mv.mu.Unlock()
	return mv.ended
}

// endDrain leaves a previous group once its in-flight events are through.
func (mv *Mover) endDrain(m *Membership) {
	mv.mu.Lock()
	if _, ok := mv.draining[m]; ok {
		delete(mv.draining, m)
		if len(mv.draining) == 0 {
			mv.dedup.tail(dedupTail)
		}
	}
	mv.mu.Unlock()
	m.retire()
}

// Leave ends every membership, live and draining; the socket has ended.
// Later moves join nothing that outlives them.
func (mv *Mover) Leave() {
	mv.mu.Lock()
	mv.ended = true
	ms := make([]*Membership, 0, 1+len(mv.draining))
	if mv.cur != nil {
		ms = append(ms, mv.cur)
	}
	for m, t := range mv.draining {
		t.Stop()
		ms = append(ms, m)
	}
	mv.cur, mv.draining = nil, nil
	mv.mu.Unlock()
	for _, m := range ms {
		m.retire()
	}
}

func (mv *Mover) deliver(m *Membership, ev *pb.Event, frame []byte) {
	if m.retired.Load() {
		return
	}
	if !mv.sink.Wants(ev, m.local || m.draining.Load()) {
		return
	}
	mv.mu.Lock()
	defer mv.mu.Unlock()
	if !mv.dedup.admit(ev.GetId()) {
		return
	}
	// A full queue closes the socket as a slow consumer (wsconn).
	mv.sink.Send(frame)
}

// upstreamClosed hands the end of the live group's stream to the sink; a
// draining group's end only ends its drain.
func (mv *Mover) upstreamClosed(m *Membership, err error) {
	mv.mu.Lock()
	m.gone = true
	live := m == mv.cur && !mv.ended
	_, draining := mv.draining[m]
	mv.mu.Unlock()
	switch {
	case live:
		mv.sink.UpstreamClosed(err)
	case draining:
		mv.endDrain(m)
	}
}

// dedupWindow drops events delivered twice while groups overlap: "full"
// from the start of a move until every draining group is left (ids are
// recorded and checked), then "tail" for a number of deliveries (checked
// only), then off. Guarded by Mover.mu.
type dedupWindow struct {
	mode dedupMode
	left int
	seen map[string]struct{}
}

type dedupMode uint8

const (
	dedupOff dedupMode = iota
	dedupFull
	dedupTailing
)

func (d *dedupWindow) start() {
	d.mode = dedupFull
	if d.seen == nil {
		d.seen = make(map[string]struct{})
	}
}

func (d *dedupWindow) tail(n int) {
	d.mode = dedupTailing
	d.left = n
}

// admit reports whether an event with this id should be delivered.
func (d *dedupWindow) admit(id string) bool {
	switch d.mode {
	case dedupFull:
		if _, dup := d.seen[id]; dup && id != "" {
			return false
		}
		if id != "" && len(d.seen) < dedupMax {
			d.seen[id] = struct{}{}
		}
		return true
	case dedupTailing:
		_, dup := d.seen[id]
		d.left--
		if d.left <= 0 {
			d.mode, d.seen = dedupOff, nil
		}
		return !dup || id == ""
	default:
		return true
	}
}
