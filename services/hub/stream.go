package hub

import (
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/access"
)

// Close reasons of a stream, as the client sees them.
var (
	errSlowConsumer = status.Error(codes.ResourceExhausted, "slow consumer: the stream did not keep up and its queue filled")
	errShutdown     = status.Error(codes.Unavailable, "server shutting down")
)

// stream is one local Subscribe stream: its filters and its bounded queue.
// offer never blocks: a full queue ends the stream as a slow consumer.
type stream struct {
	sess    *session
	filters []*pb.Filter
	reader  access.Reader // on whose behalf the stream reads (rules.go)

	// A subscription of a multiplexed stream (mux.go) has no queue of its
	// own: dispatch queues its events on mux, tagged with muxID.
	mux   *mux
	muxID uint64

	// The queue: items[head:], at most limit of them. It grows as needed
	// and is dropped when it empties, so that an idle stream holds no
	// buffer (a channel of limit slots would cost 8 KiB per stream).
	// ready holds a token while the queue is not empty.
	qmu   sync.Mutex
	items []*pb.SubscribeResponse
	head  int
	limit int
	ready chan struct{}

	mu       sync.Mutex
	excluded map[chanKey]bool // channels taken away by Unsubscribe
	done     chan struct{}
	err      error // why the stream ended; set once before done closes
}

func newStream(sess *session, filters []*pb.Filter, reader access.Reader, queueSize int) *stream {
	return &stream{
		sess:    sess,
		filters: filters,
		reader:  reader,
		limit:   queueSize,
		ready:   make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
}

// matches reports whether the stream wants ev, whose audience is aud
// (audienceOf its channel), and may read it.
func (s *stream) matches(ev *pb.Event, aud *pb.Audience) bool {
	if !access.Admits(aud, s.reader) {
		return false
	}
	matched := false
	for _, f := range s.filters {
		if Match(f, ev) {
			matched = true
			break
		}
	}
	if !matched {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.excluded) == 0 || !s.excluded[chanKey{ev.Tenant, ev.Channel}]
}

// offer queues msg if the stream is live; it reports whether it was queued.
func (s *stream) offer(msg *pb.SubscribeResponse) bool {
	select {
	case <-s.done:
		return false
	default:
	}
	s.qmu.Lock()
	n := len(s.items) - s.head
	if n >= s.limit {
		s.qmu.Unlock()
		s.end(errSlowConsumer)
		return false
	}
	if len(s.items) == cap(s.items) && s.head > 0 && s.head >= len(s.items)/2 {
		// Reuse the slots already sent rather than grow.
		k := copy(s.items, s.items[s.head:])
		clear(s.items[k:])
		s.items, s.head = s.items[:k], 0
	}
	s.items = append(s.items, msg)
	s.qmu.Unlock()
	if n == 0 {
		s.signal()
	}
	return true
}

// signal leaves the ready token (at most one waits).
func (s *stream) signal() {
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// next takes the oldest queued message, after a ready token was taken;
// it passes the token on while more are queued.
func (s *stream) next() (*pb.SubscribeResponse, bool) {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	if s.head == len(s.items) {
		return nil, false
	}
	msg := s.items[s.head]
	s.items[s.head] = nil
	s.head++
	if s.head == len(s.items) {
		if cap(s.items) > 16 {
			s.items = nil
		} else {
			s.items = s.items[:0]
		}
		s.head = 0
	} else {
		s.signal()
	}
	return msg, true
}

// queued returns how many messages wait.
func (s *stream) queued() int {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	return len(s.items) - s.head
}

// end stops the stream with err (first call wins).
func (s *stream) end(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return
	}
	s.err = err
	close(s.done)
}

// exclude takes a channel away from the stream and tells the client; with
// no channel left in any exact filter, the stream ends.
func (s *stream) exclude(k chanKey) {
	s.mu.Lock()
	if s.excluded == nil {
		s.excluded = map[chanKey]bool{}
	}
	s.excluded[k] = true
	s.mu.Unlock()
	s.offer(&pb.SubscribeResponse{Payload: &pb.SubscribeResponse_Unsubscribed{Unsubscribed: &pb.Unsubscribed{Tenant: k.tenant, Channel: k.channel}}})
}
