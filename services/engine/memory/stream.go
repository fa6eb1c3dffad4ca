package memory

import (
	"sync"
	"sync/atomic"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/services/engine"
)

// entry is one kept event and the engine-clock time it expires.
type entry struct {
	ev      *pb.Event
	expires int64
}

// stream is one channel's history stream: its epoch, the last offset
// handed out and a ring of the newest events. The ring always holds the
// consecutive offsets top-n+1 … top, because every kept publish appends the
// new top and events only ever leave from the oldest end; History relies on
// that to find an offset by arithmetic.
type stream struct {
	mu        sync.Mutex
	epoch     string
	top       uint64
	buf       []entry // ring; grows on demand up to the history size
	head, n   int     // index of the oldest event, number kept
	keepUntil int64   // engine clock: the sweeper may retire the stream after this
	removed   atomic.Bool
}

func newStream() *stream { return &stream{epoch: engine.NewEpoch()} }

// touch keeps the stream (its offset and epoch) until at least t.
func (s *stream) touch(t int64) {
	if t > s.keepUntil {
		s.keepUntil = t
	}
}

// trim drops expired events from the oldest end. Events expire in publish
// order as long as a channel's TTL does not shrink; if it does, a newer
// event may outlive its TTL until the older ones before it expire.
func (s *stream) trim(now int64) {
	for s.n > 0 && s.buf[s.head].expires <= now {
		s.popOldest()
	}
}

func (s *stream) popOldest() {
	s.buf[s.head] = entry{} // let the event be collected
	s.head = (s.head + 1) % len(s.buf)
	s.n--
}

// push appends ev (whose offset is the new top), dropping the oldest events
// beyond size.
func (s *stream) push(ev *pb.Event, size int, expires int64) {
	for s.n > 0 && s.n >= size {
		s.popOldest()
	}
	if s.n == len(s.buf) {
		s.grow(size)
	}
	s.buf[(s.head+s.n)%len(s.buf)] = entry{ev: ev, expires: expires}
	s.n++
}

// grow doubles the ring, capped at size, so that a channel with a large
// configured history but few events does not hold a large array.
func (s *stream) grow(size int) {
	c := max(2*len(s.buf), 8)
	c = max(min(c, size), s.n+1)
	nb := make([]entry, c)
	for i := 0; i < s.n; i++ {
		nb[i] = s.buf[(s.head+i)%len(s.buf)]
	}
	s.buf, s.head = nb, 0
}

// at returns the i-th kept event, oldest first.
func (s *stream) at(i int) *pb.Event { return s.buf[(s.head+i)%len(s.buf)].ev }

// retireIfIdle marks the stream removed when it keeps no events and its
// meta has expired; it reports whether it did. Idle streams that must stay
// for their meta release their ring.
func (s *stream) retireIfIdle(now int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.trim(now)
	if s.n > 0 {
		return false
	}
	s.buf, s.head = nil, 0
	if s.keepUntil > now {
		return false
	}
	s.removed.Store(true)
	return true
}

// query answers a HistoryQuery from the (already trimmed) ring. The
// returned events are copies the caller may change.
func (s *stream) query(q engine.HistoryQuery) ([]*pb.Event, *pb.StreamPosition, error) {
	pos := &pb.StreamPosition{Offset: s.top, Epoch: s.epoch}
	first := s.top - uint64(s.n) + 1 // offset of the oldest kept event; top+1 when none
	start := first
	if since := q.Since; since != nil {
		// A different epoch, a position past the top (it cannot come from
		// this stream) or one whose successors were dropped: the caller
		// cannot continue from it without a gap.
		if since.Epoch != s.epoch || since.Offset > s.top || since.Offset+1 < first {
			return nil, pos, engine.ErrPositionGone
		}
		start = since.Offset + 1
	}
	lo, hi := start, s.top // offsets to return, lo > hi when none
	if count := s.top + 1 - start; q.Limit > 0 && count > uint64(q.Limit) {
		if q.Reverse {
			lo = s.top - uint64(q.Limit) + 1
		} else {
			hi = start + uint64(q.Limit) - 1
		}
	}
	if lo > hi {
		return nil, pos, nil
	}
	out := make([]*pb.Event, 0, hi-lo+1)
	if q.Reverse {
		for off := hi; off >= lo; off-- {
			out = append(out, engine.CloneEvent(s.at(int(off-first))))
		}
	} else {
		for off := lo; off <= hi; off++ {
			out = append(out, engine.CloneEvent(s.at(int(off-first))))
		}
	}
	return out, pos, nil
}
