package hub

import (
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
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
	trusted bool // server-side callers also see user-limited ("#") channels
	queue   chan *pb.SubscribeResponse

	mu       sync.Mutex
	excluded map[chanKey]bool // channels taken away by Unsubscribe
	done     chan struct{}
	err      error // why the stream ended; set once before done closes
}

func newStream(sess *session, filters []*pb.Filter, trusted bool, queueSize int) *stream {
	return &stream{
		sess:    sess,
		filters: filters,
		trusted: trusted,
		queue:   make(chan *pb.SubscribeResponse, queueSize),
		done:    make(chan struct{}),
	}
}

// matches reports whether the stream wants ev.
func (s *stream) matches(ev *pb.Event) bool {
	if !s.trusted && !userAllowed(ev.Channel, s.sess.info.User) {
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
	select {
	case s.queue <- msg:
		return true
	default:
		s.end(errSlowConsumer)
		return false
	}
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
