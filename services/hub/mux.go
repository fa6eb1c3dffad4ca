package hub

import (
	"context"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/access"
	"github.com/switchboard-hub/switchboard/services/auth"
	"github.com/switchboard-hub/switchboard/services/engine"
)

// A multiplexed stream (mux.proto) carries the subscriptions of many
// sockets of one bridge. Each subscription is a stream (stream.go) indexed
// by the dispatcher like any other, but it has no queue and no goroutine of
// its own: dispatch gathers, per mux, the ids of the subscriptions an event
// matches and queues the event once on the mux, and the mux's one pump
// sends what is queued in batches.
//
// What bounds a mux's queue: its reader (a bridge's demultiplexer) hands
// every event to sockets that never block it, so it falls behind only when
// publishers outrun the bridge's CPU. When the queue is full, dispatch
// waits for room (publishing slows down to what the bridge can take) up to
// muxFullWait; only a reader that takes nothing for that long is cut off as
// a slow consumer. One slow socket never fills it: its own queue in the
// bridge cuts that socket.
const (
	// muxBatch is the most items one MuxBatch carries.
	muxBatch = 256
	// muxFullWait is how long dispatch waits for room in a full mux queue.
	muxFullWait = 5 * time.Second
)

// muxQueueSize is the items a mux queues before dispatch waits for room:
// as many as one stream may queue (queue_size). Beyond it publishing waits
// for the bridge, so that the events between a publisher and the sockets
// are bounded by what the bridge takes, not by what publishers send.
func (h *Hub) muxQueueSize() int { return h.opts.QueueSize }

// mux is one multiplexed stream.
type mux struct {
	id    string
	sess  *session // shared: not registered, no presence, no orders
	limit int

	mu   sync.Mutex
	subs map[uint64]*stream
	// The queue: items[head:]; ready holds a token while it is not empty,
	// room one after the pump took a batch.
	items []*pb.MuxItem
	head  int
	ready chan struct{}
	room  chan struct{}

	done   chan struct{}
	err    error         // why the mux ended; set once before done closes
	closed chan struct{} // closed when closeMux is done

	release sync.WaitGroup // engine releases of ended subscriptions
}

// muxRegistry holds this node's muxes by id.
type muxRegistry struct {
	mu   sync.Mutex
	byID map[string]*mux
}

func (r *muxRegistry) get(id string) *mux {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.byID[id]
}

func (r *muxRegistry) put(m *mux) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byID == nil {
		r.byID = map[string]*mux{}
	}
	r.byID[m.id] = m
}

func (r *muxRegistry) drop(m *mux) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.byID, m.id)
}

// SubscribeMux implements pb.HubServiceServer.
func (s *HubServer) SubscribeMux(_ *pb.SubscribeMuxRequest, srv pb.HubService_SubscribeMuxServer) error {
	h := s.h
	ctx := srv.Context()
	id := auth.FromContext(ctx)
	if !id.Trusted {
		return h.toStatus(fmt.Errorf("a multiplexed stream needs an api key: %w", errPermission))
	}
	m := &mux{
		id:    engine.NewID(),
		sess:  &session{info: &pb.Session{Id: engine.NewID(), Face: id.Face, Node: h.node.Id}},
		limit: h.muxQueueSize(),
		subs:  map[uint64]*stream{},
		ready: make(chan struct{}, 1),
		room:  make(chan struct{}, 1),
		done:  make(chan struct{}),

		closed: make(chan struct{}),
	}
	h.muxes.put(m)
	defer h.closeMux(m)
	opened := &pb.SubscribeMuxResponse{Payload: &pb.SubscribeMuxResponse_Opened{Opened: &pb.MuxOpened{MuxId: m.id, Node: h.node.Id}}}
	if err := srv.Send(opened); err != nil {
		return err
	}
	return h.pumpMux(ctx, m, srv)
}

// closeMux removes every subscription of an ended mux, then the mux: once
// MuxAdd answers NOT_FOUND, none of its subscriptions is left.
func (h *Hub) closeMux(m *mux) {
	m.end(errShutdown) // no-op when it ended already
	m.mu.Lock()
	subs := m.subs
	m.subs = nil
	m.items, m.head = nil, 0
	m.mu.Unlock()
	for _, st := range subs {
		h.disp.remove(st)
		streamsGauge.Dec()
	}
	m.release.Wait()
	h.muxes.drop(m)
	close(m.closed)
}

// pumpMux sends queued items in batches until the mux ends.
func (h *Hub) pumpMux(ctx context.Context, m *mux, srv pb.HubService_SubscribeMuxServer) error {
	tick := time.NewTicker(h.opts.Heartbeat)
	defer tick.Stop()
	idle := true
	for {
		select {
		case <-ctx.Done():
			return h.toStatus(ctx.Err())
		case <-h.closing:
			return errShutdown
		case <-m.done:
			if status.Code(m.err) == codes.ResourceExhausted {
				h.slow.Add(1)
				slowConsumersTotal.Inc()
				h.log.Warn("multiplexed stream cut off", "reason", "slow consumer", "mux", m.id)
			}
			return m.err
		case <-m.ready:
			items := m.take()
			if len(items) == 0 {
				continue
			}
			if err := srv.Send(&pb.SubscribeMuxResponse{Payload: &pb.SubscribeMuxResponse_Batch{Batch: &pb.MuxBatch{Items: items}}}); err != nil {
				return err
			}
			idle = false
		case <-tick.C:
			if idle {
				hb := &pb.SubscribeMuxResponse{Payload: &pb.SubscribeMuxResponse_Heartbeat{Heartbeat: timestamppb.Now()}}
				if err := srv.Send(hb); err != nil {
					return err
				}
			}
			idle = true
		}
	}
}

// take removes up to muxBatch queued items, passing the ready token on when
// more wait, and signals room.
func (m *mux) take() []*pb.MuxItem {
	m.mu.Lock()
	n := min(len(m.items)-m.head, muxBatch)
	out := make([]*pb.MuxItem, n)
	copy(out, m.items[m.head:m.head+n])
	clear(m.items[m.head : m.head+n])
	m.head += n
	more := m.head < len(m.items)
	if !more {
		if cap(m.items) > 64 {
			m.items = nil
		} else {
			m.items = m.items[:0]
		}
		m.head = 0
	}
	m.mu.Unlock()
	if more {
		signal(m.ready)
	}
	signal(m.room)
	return out
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// offer queues it; when the queue is full it waits for room up to
// muxFullWait, then cuts the mux off as a slow consumer. It reports whether
// the item was queued.
func (m *mux) offer(it *pb.MuxItem) bool {
	var timer *time.Timer
	for {
		m.mu.Lock()
		if m.err != nil {
			m.mu.Unlock()
			return false
		}
		n := len(m.items) - m.head
		if n < m.limit {
			if len(m.items) == cap(m.items) && m.head > 0 && m.head >= len(m.items)/2 {
				k := copy(m.items, m.items[m.head:])
				clear(m.items[k:])
				m.items, m.head = m.items[:k], 0
			}
			m.items = append(m.items, it)
			m.mu.Unlock()
			if n == 0 {
				signal(m.ready)
			}
			return true
		}
		m.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(muxFullWait)
			defer timer.Stop()
		}
		select {
		case <-m.room:
		case <-m.done:
			return false
		case <-timer.C:
			m.end(errSlowConsumer)
			return false
		}
	}
}

// end stops the mux with err (first call wins).
func (m *mux) end(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return
	}
	m.err = err
	close(m.done)
}

// endSub ends one subscription of the mux with err (a gap): it leaves the
// index at once, the engine later (not on the delivery path), and the
// bridge learns of it in order, after the events queued before.
func (h *Hub) endSub(st *stream, err error) {
	m := st.mux
	m.mu.Lock()
	if m.subs[st.muxID] != st {
		m.mu.Unlock()
		return
	}
	delete(m.subs, st.muxID)
	m.release.Add(1)
	m.mu.Unlock()
	keys, wildTenant := placement(st.filters)
	h.disp.unindex(st, keys, wildTenant)
	streamsGauge.Dec()
	go func() {
		defer m.release.Done()
		h.disp.release(keys, wildTenant)
	}()
	ended := &pb.MuxEnded{Code: uint32(status.Code(err)), Message: status.Convert(err).Message()}
	for _, d := range status.Convert(err).Details() {
		if g, ok := d.(*pb.StreamGap); ok {
			ended.Gap = g
		}
	}
	m.offer(&pb.MuxItem{Subscriptions: []uint64{st.muxID}, Payload: &pb.MuxItem_Ended{Ended: ended}})
}

// MuxAdd implements pb.HubServiceServer.
func (s *HubServer) MuxAdd(ctx context.Context, req *pb.MuxAddRequest) (*pb.MuxAddResponse, error) {
	h := s.h
	id := auth.FromContext(ctx)
	if !id.Trusted {
		return nil, h.toStatus(fmt.Errorf("a multiplexed stream needs an api key: %w", errPermission))
	}
	if err := h.checkFilters(req.Filters, true); err != nil {
		return nil, h.toStatus(err)
	}
	m := h.muxes.get(req.MuxId)
	if m == nil {
		return nil, h.toStatus(fmt.Errorf("mux %q: %w", req.MuxId, errMuxNotFound))
	}
	// No queue, no channels: its events go to the mux (dispatch).
	st := &stream{sess: m.sess, filters: req.Filters, reader: access.ServerReader, mux: m, muxID: req.Subscription}
	m.mu.Lock()
	switch {
	case m.subs == nil || m.err != nil:
		m.mu.Unlock()
		<-m.closed // closing: answer once it is gone
		return nil, h.toStatus(fmt.Errorf("mux %q: %w", req.MuxId, errMuxNotFound))
	case m.subs[req.Subscription] != nil:
		m.mu.Unlock()
		return nil, h.toStatus(invalid("subscription", "id %d is in use on this stream", req.Subscription))
	}
	m.subs[req.Subscription] = st
	m.mu.Unlock()
	if err := h.disp.add(ctx, st); err != nil {
		m.mu.Lock()
		if m.subs != nil && m.subs[req.Subscription] == st {
			delete(m.subs, req.Subscription)
		}
		m.mu.Unlock()
		return nil, h.toStatus(err)
	}
	streamsGauge.Inc()
	// The mux may have closed meanwhile (closeMux took the subs before this
	// one was indexed): undo.
	m.mu.Lock()
	gone := m.subs == nil
	m.mu.Unlock()
	if gone {
		h.disp.remove(st)
		streamsGauge.Dec()
		<-m.closed
		return nil, h.toStatus(fmt.Errorf("mux %q: %w", req.MuxId, errMuxNotFound))
	}
	return &pb.MuxAddResponse{Audiences: limitedChannels(req.Filters)}, nil
}

// MuxRemove implements pb.HubServiceServer.
func (s *HubServer) MuxRemove(ctx context.Context, req *pb.MuxRemoveRequest) (*pb.MuxRemoveResponse, error) {
	h := s.h
	if !auth.FromContext(ctx).Trusted {
		return nil, h.toStatus(fmt.Errorf("a multiplexed stream needs an api key: %w", errPermission))
	}
	m := h.muxes.get(req.MuxId)
	if m == nil {
		return &pb.MuxRemoveResponse{}, nil // gone with all its subscriptions
	}
	for _, sub := range req.Subscriptions {
		m.mu.Lock()
		st := m.subs[sub]
		if st != nil {
			delete(m.subs, sub)
		}
		m.mu.Unlock()
		if st != nil {
			h.disp.remove(st)
			streamsGauge.Dec()
		}
	}
	return &pb.MuxRemoveResponse{}, nil
}

// muxHit gathers, during one dispatch, the subscriptions of one mux that
// an event matches.
type muxHit struct {
	m   *mux
	ids []uint64
}

func addHit(hits []muxHit, st *stream) []muxHit {
	for i := range hits {
		if hits[i].m == st.mux {
			hits[i].ids = append(hits[i].ids, st.muxID)
			return hits
		}
	}
	return append(hits, muxHit{m: st.mux, ids: []uint64{st.muxID}})
}
