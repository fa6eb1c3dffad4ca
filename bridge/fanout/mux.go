package fanout

import (
	"context"
	"errors"
	"io"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/access"
)

// The multiplexed stream (HubService.SubscribeMux, mux.proto). Every group
// of a Fanout that needs no stream of its own is one subscription of one
// shared upstream stream: the group's first Subscribe adds it (MuxAdd), the
// last cancel removes it (MuxRemove). One goroutine reads the stream and,
// for each event, finds the groups by the subscription ids the event
// carries, encodes the event once per group and hands the frame to the
// group's sinks, which never block it. A group thus costs a map entry, not
// a stream, a goroutine and two queues.
//
// The mux opens with its first group and closes with its last, so a Fanout
// with no sinks holds nothing. When the stream fails, every group on it
// ends (its sinks get UpstreamClosed) and the next Subscribe opens a new
// one. A hub that does not know SubscribeMux (an older core) is served
// with a stream per group, as before.

// errNoMux: the hub does not offer multiplexed streams.
var errNoMux = errors.New("fanout: the hub has no multiplexed streams")

// muxConn is one open multiplexed stream.
type muxConn struct {
	f      *Fanout
	id     string
	ctx    context.Context // the stream's; cancelled when the mux closes
	cancel context.CancelFunc
	done   chan struct{} // closed when the mux ended; err is then set
	err    error

	mu     sync.RWMutex
	groups map[uint64]*group // by subscription id; guarded by mu

	rmu      sync.Mutex
	removing []uint64 // subscriptions to remove, sent by one goroutine
	removes  bool     // that goroutine runs
}

// attach registers g on the open mux, opening one if needed.
func (f *Fanout) attach(g *group) (*muxConn, error) {
	f.muxMu.Lock()
	defer f.muxMu.Unlock()
	if f.mux == nil {
		m, err := f.openMux(g.ctx)
		if err != nil {
			return nil, err
		}
		f.mux = m
	}
	m := f.mux
	g.sub = f.nextSub.Add(1)
	g.mux = m
	m.mu.Lock()
	m.groups[g.sub] = g
	m.mu.Unlock()
	return m, nil
}

// detach takes g off its mux; the hub is told when g's subscription was
// live there (runMux removes it otherwise). The last group closes the mux.
func (f *Fanout) detach(g *group) {
	m := g.mux
	f.muxMu.Lock()
	defer f.muxMu.Unlock()
	m.mu.Lock()
	if m.groups[g.sub] == g {
		delete(m.groups, g.sub)
	}
	empty := len(m.groups) == 0
	m.mu.Unlock()
	if empty {
		if f.mux == m {
			f.mux = nil
		}
		m.cancel() // the hub drops every subscription of the stream
		return
	}
	if g.confirmed.Load() {
		m.remove(g.sub)
	}
}

func (f *Fanout) openMux(ctx context.Context) (*muxConn, error) {
	if f.noMux.Load() {
		return nil, errNoMux
	}
	mctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stream, err := f.hub.SubscribeMux(mctx, &pb.SubscribeMuxRequest{})
	if err == nil {
		var first *pb.SubscribeMuxResponse
		for first, err = stream.Recv(); err == nil && first.GetHeartbeat() != nil; first, err = stream.Recv() {
		}
		if err == nil && first.GetOpened() == nil {
			err = ErrProtocol
		}
		if err == nil {
			m := &muxConn{
				f:      f,
				id:     first.GetOpened().GetMuxId(),
				ctx:    mctx,
				cancel: cancel,
				done:   make(chan struct{}),
				groups: make(map[uint64]*group),
			}
			go m.read(stream)
			return m, nil
		}
	}
	cancel()
	if status.Code(err) == codes.Unimplemented {
		f.noMux.Store(true)
		f.log.Info("hub has no multiplexed streams: one upstream stream per filter set")
		return nil, errNoMux
	}
	if errors.Is(err, io.EOF) {
		err = ErrUpstreamEnded
	}
	return nil, err
}

type muxStream interface {
	Recv() (*pb.SubscribeMuxResponse, error)
}

// read demultiplexes the stream until it ends.
func (m *muxConn) read(stream muxStream) {
	metrics := metricsFor("mux")
	metrics.streams.Inc()
	defer metrics.streams.Dec()
	q := &muxQueue{wake: make(chan struct{}, 1), room: make(chan struct{}, 1), done: make(chan struct{})}
	go m.deliver(q)
	for {
		msg, err := stream.Recv()
		if err != nil {
			q.close()
			<-q.done // every event received goes out before the end is told
			m.fail(err)
			return
		}
		if items := msg.GetBatch().GetItems(); len(items) > 0 {
			q.put(items)
		}
	}
}

// muxQueue hands received items from the read loop to the delivery loop.
// While the sinks are being served, batches that arrive pile up here and
// are delivered together: a socket then gets a burst of frames at once,
// which its writer sends in one system call, however the hub cut the
// stream into messages. Beyond maxPending items the read loop waits, the
// stream backs up and the hub makes publishers wait.
type muxQueue struct {
	mu     sync.Mutex
	items  []*pb.MuxItem
	closed bool
	wake   chan struct{} // items or close to see
	room   chan struct{} // the delivery loop took items
	done   chan struct{} // closed when the delivery loop has ended
}

func (q *muxQueue) put(items []*pb.MuxItem) {
	q.mu.Lock()
	for len(q.items) >= maxPending {
		q.mu.Unlock()
		<-q.room
		q.mu.Lock()
	}
	q.items = append(q.items, items...)
	q.mu.Unlock()
	signal(q.wake)
}

func (q *muxQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	signal(q.wake)
}

// take returns everything queued, or closed when nothing is left and the
// queue is closed.
func (q *muxQueue) take(into []*pb.MuxItem) (items []*pb.MuxItem, closed bool) {
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			items, q.items = q.items, into[:0]
			q.mu.Unlock()
			signal(q.room)
			return items, false
		}
		if q.closed {
			q.mu.Unlock()
			return nil, true
		}
		q.mu.Unlock()
		<-q.wake
	}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// deliver is the delivery loop of a mux: it demultiplexes what the read
// loop queued until the queue is closed and empty.
func (m *muxConn) deliver(q *muxQueue) {
	defer close(q.done)
	var d demuxer
	var spare []*pb.MuxItem
	for {
		items, closed := q.take(spare)
		if closed {
			return
		}
		m.demux(items, &d)
		clear(items)
		spare = items[:0]
		if cap(spare) > 4*maxPending {
			spare = nil
		}
	}
}

// demuxer is the read loop's scratch space, kept between batches.
type demuxer struct {
	targets []*group       // per subscription id of the batch, in order
	work    []groupWork    // the events of the batch, per group
	index   map[*group]int // group -> its entry in work
	ended   []endedItem
	frames  [][]byte
}

type groupWork struct {
	g      *group
	events []*pb.Event
	auds   []*pb.Audience
}

type endedItem struct {
	g   *group
	err error
}

// demux delivers one batch. The events of each group are delivered
// together, in order, a few to each sink in a row (deliverEvents), so that a
// socket gets a burst its writer sends in one system call; events of
// different groups have no order between them. Ends come last: a
// subscription's events all precede its end on the stream.
func (m *muxConn) demux(items []*pb.MuxItem, d *demuxer) {
	// Resolve every subscription of the batch under one read lock;
	// deliver without it (a sink may cancel from Deliver).
	d.targets = d.targets[:0]
	m.mu.RLock()
	for _, it := range items {
		for _, id := range it.GetSubscriptions() {
			d.targets = append(d.targets, m.groups[id])
		}
	}
	m.mu.RUnlock()
	if d.index == nil {
		d.index = make(map[*group]int)
	}
	i := 0
	for _, it := range items {
		ids := it.GetSubscriptions()
		gs := d.targets[i : i+len(ids)]
		i += len(ids)
		if end := it.GetEnded(); end != nil {
			err := endedError(end)
			for _, g := range gs {
				if g != nil {
					d.ended = append(d.ended, endedItem{g, err})
				}
			}
			continue
		}
		ev := it.GetEvent()
		if ev == nil {
			continue
		}
		for _, g := range gs {
			if g == nil || !g.confirmed.Load() {
				continue
			}
			k, ok := d.index[g]
			if !ok {
				k = len(d.work)
				d.index[g] = k
				d.work = append(d.work, groupWork{g: g})
			}
			w := &d.work[k]
			w.events = append(w.events, ev)
			w.auds = append(w.auds, it.GetAudience())
		}
	}
	for k := range d.work {
		w := &d.work[k]
		d.frames = w.g.deliverEvents(d.frames[:0], w.events, w.auds)
		clear(w.events)
		clear(w.auds)
		w.events, w.auds = w.events[:0], w.auds[:0]
	}
	for _, e := range d.ended {
		e.g.upstreamEnded(e.err)
	}
	clear(d.ended)
	d.ended = d.ended[:0]
	clear(d.targets)
	clear(d.index)
	// Keep the entries' slices for the next batch, not their groups.
	for k := range d.work {
		d.work[k].g = nil
	}
	if len(d.work) > 64 {
		d.work = nil // a burst over many groups: do not keep it all
	} else {
		d.work = d.work[:0]
	}
}

// endedError rebuilds the status a Subscribe stream would have ended with.
func endedError(e *pb.MuxEnded) error {
	st := status.New(codes.Code(e.GetCode()), e.GetMessage())
	if e.GetGap() != nil {
		if d, err := st.WithDetails(e.GetGap()); err == nil {
			st = d
		}
	}
	return st.Err()
}

// fail ends the mux: every live group on it ends; groups still being added
// see their MuxAdd fail (or find the mux ended, runMux).
func (m *muxConn) fail(err error) {
	if errors.Is(err, io.EOF) {
		err = ErrUpstreamEnded
	}
	m.err = err
	close(m.done)
	f := m.f
	f.muxMu.Lock()
	if f.mux == m {
		f.mux = nil
	}
	f.muxMu.Unlock()
	m.cancel()
	// A mux closed by its last group has none left to tell.
	m.mu.RLock()
	groups := make([]*group, 0, len(m.groups))
	for _, g := range m.groups {
		if g.confirmed.Load() {
			groups = append(groups, g)
		}
	}
	m.mu.RUnlock()
	for _, g := range groups {
		g.upstreamEnded(err)
	}
}

// ended reports whether the mux has failed.
func (m *muxConn) ended() bool {
	select {
	case <-m.done:
		return true
	default:
		return false
	}
}

// remove queues the removal of a subscription; one goroutine at a time
// sends the queued ones in one MuxRemove.
func (m *muxConn) remove(sub uint64) {
	m.rmu.Lock()
	defer m.rmu.Unlock()
	m.removing = append(m.removing, sub)
	if !m.removes {
		m.removes = true
		go m.sendRemoves()
	}
}

func (m *muxConn) sendRemoves() {
	for {
		m.rmu.Lock()
		subs := m.removing
		m.removing = nil
		if len(subs) == 0 || m.ctx.Err() != nil {
			m.removes = false
			m.rmu.Unlock()
			return
		}
		m.rmu.Unlock()
		if _, err := m.f.hub.MuxRemove(m.ctx, &pb.MuxRemoveRequest{MuxId: m.id, Subscriptions: subs}); err != nil && m.ctx.Err() == nil {
			// The subscriptions stay on the stream; their events are
			// dropped here, as they belong to no group.
			m.f.log.Warn("upstream subscriptions not removed", "subscriptions", len(subs), "err", err)
		}
	}
}

// runMux makes g a subscription of the mux and confirms it.
func (g *group) runMux(req *pb.SubscribeRequest) {
	m, err := g.f.attach(g)
	if errors.Is(err, errNoMux) {
		g.room = make(chan struct{}, 1)
		g.run(req)
		return
	}
	if err != nil {
		g.failOpen(err)
		return
	}
	resp, err := g.f.hub.MuxAdd(g.ctx, &pb.MuxAddRequest{MuxId: m.id, Subscription: g.sub, Filters: req.GetFilters()})
	if err != nil {
		g.failOpen(err)
		return
	}
	for _, ca := range resp.GetAudiences() {
		if g.audiences == nil {
			g.audiences = make(map[string]*pb.Audience)
		}
		g.audiences[ca.GetChannel()] = ca.GetAudience()
	}
	g.confirmed.Store(true)
	if g.ctx.Err() != nil {
		// Its last sink left while it was being added (detach saw it not
		// live yet): remove it now.
		m.remove(g.sub)
	}
	close(g.ready)
	if m.ended() {
		g.upstreamEnded(m.err)
	}
}

// deliverEvents encodes each event once and hands the sinks of the current
// snapshot the events their reader the audience admits, at most maxBatch
// to a sink in a row. frames is scratch space, returned for reuse.
func (g *group) deliverEvents(frames [][]byte, events []*pb.Event, auds []*pb.Audience) [][]byte {
	members := *g.snapshot.Load()
	if len(members) == 0 {
		return frames
	}
	kept := 0
	for i, ev := range events {
		frame, err := g.enc(ev)
		if err != nil {
			g.f.log.Warn("event not encoded; skipped", "face", g.key.face, "channel", ev.GetChannel(), "id", ev.GetId(), "err", err)
			continue
		}
		events[kept], auds[kept] = ev, auds[i]
		frames = append(frames, frame)
		kept++
	}
	events, auds = events[:kept], auds[:kept]
	n := 0
	for start := 0; start < len(events); start += maxBatch {
		end := min(start+maxBatch, len(events))
		for _, m := range members {
			for i := start; i < end; i++ {
				if m.removed.Load() {
					break
				}
				if access.Admits(auds[i], m.reader) {
					m.sink.Deliver(events[i], frames[i])
					n++
				}
			}
		}
	}
	g.metrics.delivered.Add(float64(n))
	clear(frames)
	return frames
}
