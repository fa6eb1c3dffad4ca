package fanout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/access"
)

// Encoder turns an event into one face's wire frame. A group calls it once
// per event, whatever the number of sinks; the frame is then shared.
type Encoder func(ev *pb.Event) ([]byte, error)

// Sink is one local receiver, typically a socket.
type Sink interface {
	// Deliver hands over an event and its encoded frame. It must not block
	// (queue the frame, e.g. with wsconn.Conn.Send) and must not modify
	// the frame or the event, which every sink of the group shares. It may
	// still be called once or twice, concurrently, after the sink's cancel
	// returned.
	Deliver(ev *pb.Event, frame []byte)
	// UpstreamClosed reports that the shared upstream stream ended (err is
	// its error, or ErrUpstreamEnded when the hub ended it cleanly); no more
	// events will come and the sink has been removed. Close the socket. It
	// must not block, and may come before the sink's Subscribe returned.
	UpstreamClosed(err error)
}

// Reader is implemented by sinks that stand for one end user, typically a
// socket. The hub sends every event of a limited channel with its audience
// (who may read it, derived by the core from the channel's name); a group
// delivers such an event only to the sinks whose reader it admits
// (access.Admits). A sink that does not implement Reader reads as a guest:
// it gets the events of open channels only.
type Reader interface {
	// ReadsAs returns on whose behalf the sink reads; it must not change
	// while the sink is subscribed.
	ReadsAs() access.Reader
}

func readerOf(s Sink) access.Reader {
	if r, ok := s.(Reader); ok {
		return r.ReadsAs()
	}
	return access.Reader{}
}

// Errors reported by Fanout. The upstream's own errors (gRPC status errors)
// are wrapped, so status.Code and errors.Is see through them.
var (
	// ErrUpstreamEnded: the hub ended the stream without an error.
	ErrUpstreamEnded = errors.New("fanout: upstream stream ended")
	// ErrProtocol: the hub's stream did not start with `subscribed`.
	ErrProtocol = errors.New("fanout: upstream stream did not confirm the subscription")
	// ErrNotReadable: every channel the request names exactly is limited,
	// and the sink's reader may read none of them (see Reader).
	ErrNotReadable = errors.New("fanout: the reader may read none of the channels")
)

// Options configure a Fanout.
type Options struct {
	// Logger for stream events (nil: slog.Default()).
	Logger *slog.Logger
}

// Fanout holds the shared upstream streams of one process.
type Fanout struct {
	hub pb.HubServiceClient
	log *slog.Logger

	// mu guards groups and every group's membership. Holding one lock for
	// both makes "last sink leaves" and "new sink joins" impossible to
	// interleave badly: a closing group leaves the map in the same critical
	// section in which its last sink left, so a new sink opens a new group.
	mu     sync.Mutex
	groups map[groupKey]*group

	// The multiplexed stream (mux.go): muxMu guards mux and serialises
	// opening it with attaching groups to it.
	muxMu   sync.Mutex
	mux     *muxConn
	nextSub atomic.Uint64 // subscription ids
	noMux   atomic.Bool   // the hub has no SubscribeMux: a stream per group
}

type groupKey struct{ face, key string }

// New returns a Fanout that opens its streams with hub.
func New(hub pb.HubServiceClient, opts Options) *Fanout {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Fanout{hub: hub, log: log, groups: make(map[groupKey]*group)}
}

// Subscribe joins sink to the group (face, key). The first sink of a group
// adds req's filters to the multiplexed upstream stream (or opens a
// Subscribe stream of its own, see the package comment), with enc; later
// sinks share that subscription and encoder, so every sink of a group must ask for
// the same thing (build key with FilterSetKey plus whatever else the face's
// request depends on). Subscribe returns once the upstream has confirmed the
// subscription: no event published afterwards is missed.
//
// A sink whose reader (see Reader) may read none of the channels the request
// names exactly is refused with ErrNotReadable, without a call to the hub
// when the group is open already.
//
// The stream outlives ctx: ctx bounds only the wait (its values, such as
// outgoing gRPC metadata, are kept for the stream). cancel removes the sink;
// the last one to leave ends the upstream stream. cancel is idempotent.
func (f *Fanout) Subscribe(ctx context.Context, face, key string, req *pb.SubscribeRequest, enc Encoder, sink Sink) (cancel func(), err error) {
	k := groupKey{face, key}
	m := &member{sink: sink, reader: readerOf(sink)}

	f.mu.Lock()
	g := f.groups[k]
	if g == nil {
		g = f.newGroup(ctx, k, req, enc)
		f.groups[k] = g
	}
	g.addLocked(m)
	f.mu.Unlock()

	cancel = func() { f.leave(g, m) }
	select {
	case <-g.ready:
	case <-ctx.Done():
		cancel()
		return nil, fmt.Errorf("fanout: subscribe %s: %w", face, ctx.Err())
	}
	if g.openErr != nil {
		cancel()
		return nil, fmt.Errorf("fanout: subscribe %s: %w", face, g.openErr)
	}
	if !g.readable(m.reader) {
		cancel()
		return nil, ErrNotReadable
	}
	return cancel, nil
}

// leave removes m from g; the last member to leave closes the group.
func (f *Fanout) leave(g *group, m *member) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !m.removed.CompareAndSwap(false, true) {
		return
	}
	g.live--
	if g.live > 0 {
		g.dead++
		g.compactLocked()
		return
	}
	f.dropLocked(g)
	g.stop()
}

// dropLocked takes g out of the map (if it is still there) and empties it.
func (f *Fanout) dropLocked(g *group) {
	if f.groups[g.key] == g {
		delete(f.groups, g.key)
	}
	g.all = nil
	g.live, g.dead = 0, 0
	g.publishLocked()
}
