package fanout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"google.golang.org/protobuf/proto"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// member is one sink in one group. removed is read by the delivery loop
// without a lock.
type member struct {
	sink    Sink
	removed atomic.Bool
}

// group is one upstream stream and the sinks that share it.
type group struct {
	f       *Fanout
	key     groupKey
	enc     Encoder
	metrics *faceMetrics
	ctx     context.Context // the stream's context; cancelled when the group ends
	cancel  context.CancelFunc

	// ready is closed once the stream is confirmed (openErr nil) or failed
	// to open (openErr set); openErr is written before ready is closed.
	ready   chan struct{}
	openErr error

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
}

func (f *Fanout) newGroup(ctx context.Context, k groupKey, req *pb.SubscribeRequest, enc Encoder) *group {
	// The stream belongs to the group, not to the first caller: keep ctx's
	// values (metadata) but not its cancellation.
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	g := &group{
		f:       f,
		key:     k,
		enc:     enc,
		metrics: metricsFor(k.face),
		ctx:     sctx,
		cancel:  cancel,
		ready:   make(chan struct{}),
	}
	g.publishLocked()
	go g.run(req)
	return g
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
			g.upstreamEnded(err)
			return
		}
		switch p := msg.GetPayload().(type) {
		case *pb.SubscribeResponse_Event:
			g.deliver(p.Event)
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
		switch msg.GetPayload().(type) {
		case *pb.SubscribeResponse_Subscribed:
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
	g.cancel()
}

// deliver encodes ev once and hands the frame to every member of the
// current snapshot. A member that joins during delivery gets the next event.
func (g *group) deliver(ev *pb.Event) {
	frame, err := g.enc(ev)
	if err != nil {
		g.f.log.Warn("event not encoded; skipped", "face", g.key.face, "channel", ev.GetChannel(), "id", ev.GetId(), "err", err)
		return
	}
	members := *g.snapshot.Load()
	n := 0
	for _, m := range members {
		if m.removed.Load() {
			continue
		}
		m.sink.Deliver(ev, frame)
		n++
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
	g.cancel()

	f.log.Warn("upstream stream ended", "face", g.key.face, "sinks", len(told), "err", err)
	for _, m := range told {
		m.sink.UpstreamClosed(err)
	}
}
