package hub

import (
	"context"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/services/engine"
)

// Options configure a Hub. Zero values get the defaults noted.
type Options struct {
	Engine      engine.Engine
	NodeName    string // shown in stats; default host name
	Version     string
	HistorySize int           // default channel history length (default 100)
	HistoryTTL  time.Duration // default channel history lifetime (default 5m)
	NoPresence  bool          // keep no presence for channels outside namespaces
	JoinLeave   bool          // JOIN/LEAVE events for channels outside namespaces
	Namespaces  []Namespace
	MaxPayload  int           // bytes of data+previous+info per event (default 64 KiB)
	QueueSize   int           // events queued per stream before it is cut off (default 1024)
	UserQueue   int           // directed events queued per offline user (default 10)
	Heartbeat   time.Duration // idle stream heartbeat (default 25s)
	GELFAddr    string        // host:port of a GELF UDP input for session logs; "" = none
	Logger      *slog.Logger
	// Counters reads what is counted outside the core (the faces, the API
	// front) for the node's stats; nil reports zeros.
	Counters func() ProcessCounters
	// Observer, when set, publishes every event this node publishes:
	// webhooks queue it durably there.
	Observer Observer
}

// ProcessCounters are the process's request and traffic counters since it
// started, reported in NodeInfo.
type ProcessCounters struct {
	APIRequests    uint64 // server API calls (Centrifugo API, api-key gRPC/REST)
	ClientRequests uint64 // websocket frames from clients, user-token gRPC/REST calls
	BytesIn        uint64 // message bytes from websocket clients
	BytesOut       uint64 // message bytes to websocket clients
}

// Observer publishes every event the hub publishes, so that it can keep
// the event in the same write as the publish when the engine allows it.
// Publish publishes ev with publish (the engine's Publish), or in its own
// way with the same effect, and keeps it. An error with a nil position
// fails the publish as an engine error; an error with a position means the
// event reached live subscribers but the observer could not keep it, and
// the publisher must hear that.
type Observer interface {
	Publish(ctx context.Context, ev *pb.Event, opts engine.HistoryOptions,
		publish func(context.Context, *pb.Event, engine.HistoryOptions) (*pb.StreamPosition, error)) (*pb.StreamPosition, error)
}

// Hub is one node's core: it implements the services and receives what the
// engine delivers to the node.
type Hub struct {
	eng        engine.Engine
	log        *slog.Logger
	opts       Options
	defaults   channelOptions
	namespaces map[string]channelOptions
	node       *pb.NodeInfo // immutable parts: id, name, version, started_at
	disp       *dispatcher
	reg        *registry
	work       *workers // control-order work, off the delivery path (work.go)
	cpu        *cpuMeter
	dir        *directory
	muxes      muxRegistry // multiplexed streams of bridges (mux.go)

	published, delivered, slow atomic.Uint64

	closing   chan struct{} // closed by Shutdown: every stream ends
	closeOnce sync.Once
}

// New builds a hub on opts.Engine. Call Run to start receiving.
func New(opts Options) *Hub {
	if opts.HistorySize == 0 {
		opts.HistorySize = 100
	}
	if opts.HistoryTTL == 0 {
		opts.HistoryTTL = 5 * time.Minute
	}
	if opts.MaxPayload == 0 {
		opts.MaxPayload = 64 << 10
	}
	if opts.QueueSize == 0 {
		opts.QueueSize = 1024
	}
	if opts.UserQueue == 0 {
		opts.UserQueue = 10
	}
	if opts.Heartbeat == 0 {
		opts.Heartbeat = 25 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.NodeName == "" {
		opts.NodeName, _ = os.Hostname()
	}
	h := &Hub{
		eng:  opts.Engine,
		log:  opts.Logger,
		opts: opts,
		defaults: channelOptions{
			history:   engine.HistoryOptions{Size: opts.HistorySize, TTL: opts.HistoryTTL},
			presence:  !opts.NoPresence,
			joinLeave: opts.JoinLeave,
		},
		namespaces: map[string]channelOptions{},
		node: &pb.NodeInfo{
			Id:        engine.NewID(),
			Name:      opts.NodeName,
			Version:   opts.Version,
			StartedAt: timestamppb.Now(),
		},
		disp:    newDispatcher(opts.Engine),
		cpu:     newCPUMeter(time.Now()),
		reg:     newRegistry(),
		work:    newWorkers(),
		dir:     &directory{},
		closing: make(chan struct{}),
	}
	if opts.GELFAddr != "" {
		g, err := newGELFSink(opts.GELFAddr)
		if err != nil {
			h.log.Error("session logs will not reach GELF", "err", err)
		}
		h.dir.gelf = g
	}
	for _, ns := range opts.Namespaces {
		h.namespaces[ns.Name] = channelOptions{
			history:   engine.HistoryOptions{Size: ns.HistorySize, TTL: ns.HistoryTTL},
			presence:  ns.Presence,
			joinLeave: ns.JoinLeave,
		}
	}
	return h
}

// Shutdown ends every Subscribe and Control stream with UNAVAILABLE so that
// a graceful gRPC stop can finish.
func (h *Hub) Shutdown() { h.closeOnce.Do(func() { close(h.closing) }) }

// NodeID is the unique id of this node.
func (h *Hub) NodeID() string { return h.node.Id }

// Run receives events and control orders from the engine and reports this
// node's stats to the cluster until ctx ends or the engine is closed. It
// returns only after everything it started has ended, and the work the
// control orders left (work.go) is done.
func (h *Hub) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { h.reportNode(ctx) })
	h.work.start(h)
	err := h.eng.Run(ctx, h)
	cancel()
	wg.Wait()
	h.work.stopAndWait()
	return err
}

// nodeReportInterval is how often a node refreshes its entry in Stats.
const nodeReportInterval = 3 * time.Second

func (h *Hub) reportNode(ctx context.Context) {
	t := time.NewTicker(nodeReportInterval)
	defer t.Stop()
	for {
		if err := h.eng.UpdateNode(ctx, h.nodeInfo()); err != nil && ctx.Err() == nil {
			h.log.Warn("node report failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// nodeInfo is a fresh snapshot of this node.
func (h *Hub) nodeInfo() *pb.NodeInfo {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	sessions, users := h.reg.counts()
	streams, channels := h.disp.count()
	n := &pb.NodeInfo{
		Id:               h.node.Id,
		Name:             h.node.Name,
		Version:          h.node.Version,
		StartedAt:        h.node.StartedAt,
		NumSessions:      uint64(sessions),
		NumUsers:         uint64(users),
		NumChannels:      uint64(channels),
		NumSubscriptions: uint64(streams),
		NumPublished:     h.published.Load(),
		NumDelivered:     h.delivered.Load(),
		NumSlowConsumers: h.slow.Load(),
		NumGoroutines:    uint64(runtime.NumGoroutine()),
		MemorySysBytes:   ms.Sys,
		UptimeSeconds:    uint64(time.Since(h.node.StartedAt.AsTime()).Seconds()),
		Gomaxprocs:       uint32(runtime.GOMAXPROCS(0)),
		NumCpu:           uint32(runtime.NumCPU()),
		CpuUsagePercent:  h.cpu.usage(time.Now()),
	}
	if h.opts.Counters != nil {
		c := h.opts.Counters()
		n.NumApiRequests, n.NumClientRequests = c.APIRequests, c.ClientRequests
		n.BytesClientIn, n.BytesClientOut = c.BytesIn, c.BytesOut
	}
	return n
}

// HandleEvent implements engine.Handler.
func (h *Hub) HandleEvent(ev *pb.Event) {
	n := h.disp.dispatch(ev)
	h.delivered.Add(uint64(n))
	deliveredTotal.Add(float64(n))
}

// HandleControl implements engine.Handler: it applies an order to this
// node's sessions of the user (or the addressed session).
func (h *Hub) HandleControl(c *engine.Control) {
	switch c.Kind {
	case engine.ControlCommand, engine.ControlQuery, engine.ControlReply:
		h.handleRequest(c)
		return
	}
	var targets []*session
	if c.Kind == engine.ControlDeliver {
		to := c.Event.GetTo()
		targets = h.reg.targets(c.Event.Tenant, to.GetUser(), to.GetSession())
	} else {
		targets = h.reg.targets(c.Tenant, c.User, c.Session)
	}
	for _, s := range targets {
		switch c.Kind {
		case engine.ControlDeliver:
			h.deliverDirected(s, c.Event)
		case engine.ControlDisconnect:
			h.disconnectSession(s, c.Reason)
		case engine.ControlUnsubscribe:
			h.unsubscribeSession(s, c.Channel)
		}
	}
}

func (h *Hub) order(s *session, o *pb.ControlResponse) {
	if s.edge == "" {
		return
	}
	o.SessionId = s.info.Id
	if !h.reg.sendOrder(s, o) {
		droppedOrdersTotal.Inc()
		h.log.Warn("control order dropped: edge has no open Control stream or it is full", "edge", s.edge, "session", s.info.Id)
	}
}

func (h *Hub) deliverDirected(s *session, ev *pb.Event) {
	h.order(s, &pb.ControlResponse{Order: &pb.ControlResponse_Event{Event: ev}})
	msg := eventMessage(ev)
	for _, st := range s.streamList() {
		if st.matches(ev, msg.Audience) && st.offer(msg) {
			h.delivered.Add(1)
			deliveredTotal.Inc()
		}
	}
}

func (h *Hub) disconnectSession(s *session, reason string) {
	h.order(s, &pb.ControlResponse{Order: &pb.ControlResponse_Disconnect{Disconnect: &pb.DisconnectOrder{Reason: reason}}})
	for _, st := range s.streamList() {
		st.end(disconnectedError(reason))
	}
}

func (h *Hub) unsubscribeSession(s *session, channel string) {
	h.order(s, &pb.ControlResponse{Order: &pb.ControlResponse_Unsubscribe{Unsubscribe: &pb.UnsubscribeOrder{Channel: channel}}})
	for _, st := range s.streamList() {
		if channel == "" {
			st.end(unsubscribedError)
			continue
		}
		st.exclude(chanKey{s.info.Tenant, channel})
	}
	// Leaving presence calls the engine: not here, on its delivery path.
	h.deferLeave(s, channel)
}

func (s *session) streamList() []*stream {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*stream, 0, len(s.streams))
	for st := range s.streams {
		out = append(out, st)
	}
	return out
}
