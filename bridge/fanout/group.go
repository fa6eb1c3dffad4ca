package fanout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"

	"google.golang.org/protobuf/proto"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/access"
)

// member is one sink in one group. removed is read by the delivery loop
// without a lock.
type member struct {
	sink    Sink
	reader  access.Reader // on whose behalf the sink reads (Reader)
	removed atomic.Bool
}

// group is one upstream stream and the sinks that share it.
type group struct {
	f       *Fanout
	key     groupKey
	req     *pb.SubscribeRequest
	enc     Encoder
	metrics *faceMetrics
	ctx     context.Context // the stream's context; cancelled when the group ends
	cancel  context.CancelFunc

	// On the multiplexed stream (mux.go): the mux, the group's subscription
	// on it, and whether the hub confirmed it (events for it are delivered
	// from then on).
	mux       *muxConn
	sub       uint64
	confirmed atomic.Bool

	// ready is closed once the stream is confirmed (openErr nil) or failed
	// to open (openErr set); openErr is written before ready is closed.
	ready   chan struct{}
	openErr error
	// audiences of the limited channels the request names exactly, as the
	// hub confirmed them; written before ready is closed.
	audiences map[string]*pb.Audience

	// Membership, guarded by f.mu. all is copy-on-write for readers:
	// appending past the length of a published snapshot never touches what
	// that snapshot sees, and removal only flips member.removed until dead
	// members outnumber live ones, when a fresh slice is published. So
	// joining and leaving are amortised O(1), and delivery reads a snapshot
	// without any lock.
	all  []*member
	live int // members not removed
	dead int // removed members still in all

	snapshot atomic.Pointer[[]*member]

	// Events received and not yet delivered, guarded by pmu. The stream's
	// goroutine appends; a delivery goroutine, started when pending goes
	// from empty to non-empty, takes them in batches (see deliverLoop).
	pmu        sync.Mutex
	pending    []*pb.SubscribeResponse // events, with their audience
	delivering bool
	drained    chan struct{} // closed when the running delivery goroutine exits
	room       chan struct{} // a batch was taken: pending has room again
}

func (f *Fanout) newGroup(ctx context.Context, k groupKey, req *pb.SubscribeRequest, enc Encoder) *group {
	// The stream belongs to the group, not to the first caller: keep ctx's
	// values (metadata) but not its cancellation.
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	g := &group{
		f:       f,
		key:     k,
		req:     req,
		enc:     enc,
		metrics: metricsFor(k.face),
		ctx:     sctx,
		cancel:  cancel,
		ready:   make(chan struct{}),
	}
	g.publishLocked()
	if ownStream(req) || f.noMux.Load() {
		g.room = make(chan struct{}, 1)
		go g.run(req)
	} else {
		go g.runMux(req)
	}
	return g
}

// ownStream reports whether req needs a stream of its own: a resume, or a
// stream of a session or on behalf of a user, is no plain subscription.
func ownStream(req *pb.SubscribeRequest) bool {
	return len(req.GetSince()) > 0 || req.GetSessionId() != "" || req.GetOnBehalfOf() != nil
}

// stop ends the group's upstream: its stream, or its subscription on the
// mux.
func (g *group) stop() {
	g.cancel()
	if g.mux != nil {
		g.f.detach(g)
	}
}

func (g *group) addLocked(m *member) {
	g.all = append(g.all, m)
	g.live++
	g.publishLocked()
}

func (g *group) publishLocked() {
	s := g.all
	g.snapshot.Store(&s)
}

// compactLocked drops removed members once they outnumber live ones, so the
// cost of copying is spread over the removals that made it necessary.
func (g *group) compactLocked() {
	const minDead = 16
	if g.dead < minDead || g.dead <= g.live {
		return
	}
	live := make([]*member, 0, g.live)
	for _, m := range g.all {
		if !m.removed.Load() {
			live = append(live, m)
		}
	}
	g.all = live
	g.dead = 0
	g.publishLocked()
}

// run opens the stream, confirms it, then delivers until the stream ends.
func (g *group) run(req *pb.SubscribeRequest) {
	stream, err := g.open(req)
	if err != nil {
		g.failOpen(err)
		return
	}
	g.metrics.streams.Inc()
	defer g.metrics.streams.Dec()
	close(g.ready)

	for {
		msg, err := stream.Recv()
		if err != nil {
			// Every event received goes out before the sinks hear of the end.
			g.waitDelivered()
			g.upstreamEnded(err)
			return
		}
		switch p := msg.GetPayload().(type) {
		case *pb.SubscribeResponse_Event:
			g.enqueue(msg)
		case *pb.SubscribeResponse_Unsubscribed:
			// The hub took a channel away from this stream (Unsubscribe of
			// the stream's owner). Shared streams are owned by no one user,
			// so there is nothing to tell the sinks.
			g.f.log.Debug("upstream channel removed", "face", g.key.face, "tenant", p.Unsubscribed.GetTenant(), "channel", p.Unsubscribed.GetChannel())
		default:
			// Heartbeats only keep the stream alive.
		}
	}
}

func (g *group) open(req *pb.SubscribeRequest) (subscribeStream, error) {
	// The stream stands for many sockets, which report their own presence:
	// it must not count as a session of its own.
	req = proto.CloneOf(req)
	req.Shared = true
	stream, err := g.f.hub.Subscribe(g.ctx, req)
	if err != nil {
		return nil, err
	}
	for {
		msg, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = ErrUpstreamEnded
			}
			return nil, err
		}
		switch p := msg.GetPayload().(type) {
		case *pb.SubscribeResponse_Subscribed:
			for _, ca := range p.Subscribed.GetAudiences() {
				if g.audiences == nil {
					g.audiences = make(map[string]*pb.Audience)
				}
				g.audiences[ca.GetChannel()] = ca.GetAudience()
			}
			return stream, nil
		case *pb.SubscribeResponse_Heartbeat:
			continue
		default:
			return nil, fmt.Errorf("%w: got %T first", ErrProtocol, msg.GetPayload())
		}
	}
}

type subscribeStream interface {
	Recv() (*pb.SubscribeResponse, error)
}

// failOpen ends a group whose stream never became live. Its members are
// still waiting in Subscribe; they see openErr and leave by themselves.
func (g *group) failOpen(err error) {
	g.f.mu.Lock()
	if g.f.groups[g.key] == g {
		delete(g.f.groups, g.key)
	}
	g.f.mu.Unlock()
	g.openErr = err
	close(g.ready)
	g.stop()
}

// Delivery in batches. While the sinks are being served, events that arrive
// wait in pending; the delivery goroutine then takes up to maxBatch of them
// and hands each sink all of them in a row. A socket thus gets a burst of
// frames at once, which its writer sends in one system call, instead of one
// frame, one wake-up and one system call per event. When events come one
// at a time, a batch is one event and nothing waits.
const (
	// maxBatch bounds the frames one sink is handed in a row; it stays well
	// below any sensible socket queue (client_queue_size), so that a
	// healthy socket is never taken for a slow one.
	maxBatch = 16
	// maxPending bounds the events waiting for delivery; beyond it the
	// stream's goroutine stops reading, and the hub's stream queue takes
	// the strain.
	maxPending = 4096
)

// enqueue hands an event message to the delivery goroutine, starting one
// if none runs.
func (g *group) enqueue(ev *pb.SubscribeResponse) {
	g.pmu.Lock()
	for len(g.pending) >= maxPending {
		g.pmu.Unlock()
		<-g.room
		g.pmu.Lock()
	}
	g.pending = append(g.pending, ev)
	if !g.delivering {
		g.delivering = true
		g.drained = make(chan struct{})
		go g.deliverLoop(g.drained)
	}
	g.pmu.Unlock()
}

// deliverLoop delivers pending events in batches until none is left.
func (g *group) deliverLoop(drained chan struct{}) {
	defer close(drained)
	var frames [][]byte
	var events []*pb.SubscribeResponse
	for {
		g.pmu.Lock()
		if len(g.pending) == 0 {
			g.delivering = false
			g.pending = nil
			g.pmu.Unlock()
			return
		}
		n := min(len(g.pending), maxBatch)
		events = append(events[:0], g.pending[:n]...)
		rest := copy(g.pending, g.pending[n:])
		clear(g.pending[rest:])
		g.pending = g.pending[:rest]
		g.pmu.Unlock()
		select {
		case g.room <- struct{}{}:
		default:
		}
		frames, events = g.encode(frames[:0], events)
		g.deliver(events, frames)
		clear(events)
		clear(frames)
	}
}

// waitDelivered returns once every event enqueued so far has been
// delivered. Only the stream's goroutine, which enqueues, may call it.
func (g *group) waitDelivered() {
	g.pmu.Lock()
	drained := g.drained
	running := g.delivering
	g.pmu.Unlock()
	if running {
		<-drained
	}
}

// encode encodes each event once, for every sink; an event that cannot be
// encoded is logged and left out.
func (g *group) encode(frames [][]byte, events []*pb.SubscribeResponse) ([][]byte, []*pb.SubscribeResponse) {
	kept := events[:0]
	for _, msg := range events {
		ev := msg.GetEvent()
		frame, err := g.enc(ev)
		if err != nil {
			g.f.log.Warn("event not encoded; skipped", "face", g.key.face, "channel", ev.GetChannel(), "id", ev.GetId(), "err", err)
			continue
		}
		kept = append(kept, msg)
		frames = append(frames, frame)
	}
	return frames, kept
}

// deliver hands every member of the current snapshot the batch, in order,
// leaving out the events whose audience does not admit the member's reader.
// The snapshot is read after the batch was taken, so a member whose
// Subscribe returned before an event arrived gets that event; a member that
// joins during delivery gets the next batch.
func (g *group) deliver(events []*pb.SubscribeResponse, frames [][]byte) {
	if len(events) == 0 {
		return
	}
	members := *g.snapshot.Load()
	n := 0
	for _, m := range members {
		if m.removed.Load() {
			continue
		}
		for i, msg := range events {
			if i > 0 && m.removed.Load() {
				break // cancelled meanwhile
			}
			if !access.Admits(msg.GetAudience(), m.reader) {
				continue
			}
			m.sink.Deliver(msg.GetEvent(), frames[i])
			n++
		}
	}
	g.metrics.delivered.Add(float64(n))
}

// upstreamEnded handles the end of a live stream. When the group itself
// cancelled it (its last sink left) nobody is left to tell. Otherwise every
// sink is removed and told, and the group leaves the map so the next
// Subscribe opens a fresh stream.
func (g *group) upstreamEnded(err error) {
	if g.ctx.Err() != nil {
		return
	}
	if errors.Is(err, io.EOF) {
		err = ErrUpstreamEnded
	}
	f := g.f
	f.mu.Lock()
	var told []*member
	for _, m := range g.all {
		if m.removed.CompareAndSwap(false, true) {
			told = append(told, m)
		}
	}
	f.dropLocked(g)
	f.mu.Unlock()
	g.stop()

	f.log.Warn("upstream stream ended", "face", g.key.face, "sinks", len(told), "err", err)
	for _, m := range told {
		m.sink.UpstreamClosed(err)
	}
}

// readable reports whether r may read at least one channel of the group's
// request: a filter that names no exact channel may match open ones, and a
// named channel without an audience is open.
func (g *group) readable(r access.Reader) bool {
	for _, f := range g.req.GetFilters() {
		chs := f.GetChannels()
		if len(chs) == 0 || slices.Contains(chs, "*") {
			return true
		}
		for _, ch := range chs {
			if access.Admits(g.audiences[ch], r) {
				return true
			}
		}
	}
	return false
}
