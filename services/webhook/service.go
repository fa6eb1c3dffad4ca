package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/services/engine"
)

// Encoding turns events into webhook bodies (Comet's StreamableEvent JSON).
type Encoding interface {
	// Type is the event's SEVT number; false when it has none and no
	// endpoint receives it.
	Type(ev *pb.Event) (int, bool)
	// Body is the event's JSON body, with its data only when full.
	Body(ev *pb.Event, full bool) ([]byte, error)
	// Hello is the body of the SEVT_META_HELLO that opens a queue.
	Hello(full bool) ([]byte, error)
}

// Config of a Service. Zero durations and counts take the defaults.
type Config struct {
	Store    engine.Webhooks
	Encoding Encoding
	// Node names this node's leases; it must differ between nodes.
	Node string
	// Endpoints at start.
	Endpoints map[string]Endpoint
	// Shared, when set, keeps one option map for every node (the Redis
	// engine): it is loaded at start (the config's Endpoints only seed it
	// while it holds nothing), a change made through SetEndpoints is stored there, and
	// a change stored by another node is applied here live.
	Shared engine.WebhookOptions
	// Persist stores a changed option map (the config file); nil: changes
	// live only in memory.
	Persist func(map[string]Endpoint) error
	// Changed, when set, is told of every change made through SetEndpoints
	// (after it was applied), to announce it.
	Changed     func(ctx context.Context, eps map[string]Endpoint)
	MaxAttempts int           // attempts per event before it is dead-lettered (default 8)
	BaseDelay   time.Duration // first retry delay (default 1s); doubles up to MaxDelay
	MaxDelay    time.Duration // default 1m
	Timeout     time.Duration // per attempt (default 10s)
	QueueMax    int           // events kept per endpoint; the oldest are dead-lettered beyond (default 10000)
	Poll        time.Duration // how often an idle worker looks for work queued by other nodes (default 500ms)
	Client      *http.Client  // default: one with Timeout
	Logger      *slog.Logger
}

func (c *Config) defaults() {
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 8
	}
	if c.BaseDelay <= 0 {
		c.BaseDelay = time.Second
	}
	if c.MaxDelay <= 0 {
		c.MaxDelay = time.Minute
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.QueueMax <= 0 {
		c.QueueMax = 10000
	}
	if c.Poll <= 0 {
		c.Poll = 500 * time.Millisecond
	}
	if c.Client == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = MaxParallel // parallel endpoints reuse their connections
		c.Client = &http.Client{Timeout: c.Timeout, Transport: t}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Service queues events for the configured endpoints and delivers them.
type Service struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex // guards endpoints, workers and persisting
	eps     map[string]Endpoint
	workers map[string]*worker
	// numEps is len(eps), read without the lock: with no endpoint (the
	// common case) Accept returns before it looks at the event.
	numEps atomic.Int64

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New makes a service; Start begins delivering.
func New(cfg Config) (*Service, error) {
	cfg.defaults()
	if cfg.Store == nil || cfg.Encoding == nil {
		return nil, errors.New("webhook: Store and Encoding are required")
	}
	if err := Validate(cfg.Endpoints); err != nil {
		return nil, err
	}
	s := &Service{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "webhook"),
		eps:     map[string]Endpoint{},
		workers: map[string]*worker{},
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Start queues a HELLO for every endpoint (a server start opens their
// queues anew) and starts one worker per endpoint.
func (s *Service) Start(ctx context.Context) error {
	eps := s.cfg.Endpoints
	if sh := s.cfg.Shared; sh != nil {
		stored, found, err := s.loadShared(ctx)
		if err != nil {
			return err
		}
		if found {
			if !sameOptions(stored, eps) {
				s.log.Info("webhook options: the cluster's stored options are used, not the config's", "endpoints", len(stored))
			}
			eps = stored
		} else if len(eps) > 0 { // the first node with endpoints seeds the cluster's
			if err := s.storeShared(ctx, eps); err != nil {
				return err
			}
		}
	}
	s.mu.Lock()
	err := s.apply(ctx, eps, true)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if sh := s.cfg.Shared; sh != nil {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			sh.WebhookOptionsWatch(s.ctx, s.follow)
		}()
	}
	return nil
}

// loadShared reads the cluster's option map; found is false when none was
// stored yet.
func (s *Service) loadShared(ctx context.Context) (eps map[string]Endpoint, found bool, err error) {
	b, err := s.cfg.Shared.WebhookOptionsLoad(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("webhook: load shared options: %w", err)
	}
	if b == nil {
		return nil, false, nil
	}
	if err := json.Unmarshal(b, &eps); err != nil {
		return nil, false, fmt.Errorf("webhook: shared options: %w", err)
	}
	if err := Validate(eps); err != nil {
		return nil, false, fmt.Errorf("webhook: shared options: %w", err)
	}
	return eps, true, nil
}

func (s *Service) storeShared(ctx context.Context, eps map[string]Endpoint) error {
	if eps == nil {
		eps = map[string]Endpoint{}
	}
	b, err := json.Marshal(eps)
	if err != nil {
		return err
	}
	if err := s.cfg.Shared.WebhookOptionsStore(ctx, b); err != nil {
		return fmt.Errorf("webhook: store shared options: %w", err)
	}
	return nil
}

// follow applies the cluster's options when another node changed them.
// The node that took the change queued the HELLOs and saved its config
// file; this one only starts and stops its workers.
func (s *Service) follow() {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.Timeout)
	defer cancel()
	eps, found, err := s.loadShared(ctx)
	if err != nil {
		if s.ctx.Err() == nil {
			s.log.Warn("webhook options from the cluster", "err", err)
		}
		return
	}
	if !found {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx.Err() != nil || sameOptions(eps, s.eps) {
		return
	}
	if err := s.apply(ctx, eps, false); err != nil {
		s.log.Warn("apply webhook options from the cluster", "err", err)
		return
	}
	s.log.Info("webhook options changed by another node applied", "endpoints", len(eps))
}

// sameOptions reports whether two option maps are the same.
func sameOptions(a, b map[string]Endpoint) bool {
	if len(a) != len(b) {
		return false
	}
	for name, e := range a {
		o, ok := b[name]
		if !ok || !e.equal(o) {
			return false
		}
	}
	return true
}

// Stop ends every worker and waits for them. Events not yet delivered stay
// queued for the next start (or another node).
func (s *Service) Stop() {
	s.cancel()
	s.mu.Lock()
	for _, w := range s.workers {
		w.stop()
	}
	s.mu.Unlock()
	s.wg.Wait()
	s.cfg.Client.CloseIdleConnections()
}

// Endpoints returns the current option map.
func (s *Service) Endpoints() map[string]Endpoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]Endpoint, len(s.eps))
	for k, v := range s.eps {
		out[k] = v
	}
	return out
}

// SetEndpoints replaces the option map: it is persisted first, then applied
// live. Removed endpoints lose their queues; new and changed ones get a
// HELLO.
func (s *Service) SetEndpoints(ctx context.Context, eps map[string]Endpoint) error {
	if err := Validate(eps); err != nil {
		return err
	}
	if err := s.replace(ctx, eps); err != nil {
		return err
	}
	// Announced outside the lock: the announcement is itself an event
	// that Accept queues for the endpoints.
	if s.cfg.Changed != nil {
		s.cfg.Changed(ctx, eps)
	}
	return nil
}

func (s *Service) replace(ctx context.Context, eps map[string]Endpoint) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg.Shared != nil {
		if err := s.storeShared(ctx, eps); err != nil {
			return err
		}
	}
	if s.cfg.Persist != nil {
		if err := s.cfg.Persist(eps); err != nil {
			return fmt.Errorf("webhook: save options: %w", err)
		}
	}
	return s.apply(ctx, eps, true)
}

// apply makes eps current; s.mu is held. With hello, new and changed
// endpoints get a HELLO (not when following another node's change: that
// node queued it in the shared queue).
func (s *Service) apply(ctx context.Context, eps map[string]Endpoint, hello bool) error {
	for name, w := range s.workers {
		if e, ok := eps[name]; ok && e.equal(w.ep) {
			continue
		}
		w.stop()
		delete(s.workers, name)
		if _, ok := eps[name]; !ok {
			if err := s.cfg.Store.WebhookRemove(ctx, name); err != nil {
				s.log.Warn("remove webhook queue", "endpoint", name, "err", err)
			}
		}
	}
	var hellos []engine.WebhookPush
	next := make(map[string]Endpoint, len(eps))
	for name, e := range eps {
		next[name] = e
		if _, running := s.workers[name]; running || !hello {
			continue
		}
		body, err := s.cfg.Encoding.Hello(e.full())
		if err != nil {
			return err
		}
		hellos = append(hellos, engine.WebhookPush{Endpoint: name, Body: body})
	}
	s.eps = next
	s.numEps.Store(int64(len(next)))
	if len(hellos) > 0 {
		if err := s.push(ctx, hellos); err != nil {
			return err
		}
	}
	for name, e := range eps {
		if _, running := s.workers[name]; !running && s.ctx.Err() == nil {
			w := newWorker(s, name, e)
			s.workers[name] = w
			s.wg.Add(1)
			go w.run()
		}
	}
	return nil
}

// Accept queues ev for every endpoint that wants it and returns once the
// queue holds it: an accepted event is delivered or dead-lettered, never
// forgotten. The store shares one write among concurrent calls.
func (s *Service) Accept(ctx context.Context, ev *pb.Event) error {
	if s.numEps.Load() == 0 {
		return nil
	}
	start := time.Now()
	targets, wake := s.targets(ev)
	if len(targets) == 0 {
		return nil
	}
	items := make([]engine.WebhookPush, 0, len(targets))
	var bodies [2][]byte // by level: none, full
	for _, t := range targets {
		lvl := 0
		if t.Full {
			lvl = 1
		}
		if bodies[lvl] == nil {
			b, err := s.cfg.Encoding.Body(ev, t.Full)
			if err != nil {
				return err
			}
			bodies[lvl] = b
		}
		items = append(items, engine.WebhookPush{Endpoint: t.Endpoint, Body: bodies[lvl]})
	}
	if err := s.push(ctx, items); err != nil {
		return err
	}
	for _, w := range wake {
		w.wake()
	}
	acceptSeconds.Observe(time.Since(start).Seconds())
	return nil
}

// PublishFunc publishes an event: the engine's Publish.
type PublishFunc func(ctx context.Context, ev *pb.Event, opts engine.HistoryOptions) (*pb.StreamPosition, error)

// Publish publishes ev and queues it for every endpoint that wants it.
// When the store is an engine that queues events with their publish
// (engine.WebhookPublisher: Redis), the store publishes ev and queues it in
// one atomic write and one round trip, in place of publish; otherwise ev is
// published with publish, then accepted (Accept). A position returned with
// an error means that the event was published but not queued.
func (s *Service) Publish(ctx context.Context, ev *pb.Event, opts engine.HistoryOptions, publish PublishFunc) (*pb.StreamPosition, error) {
	pub, ok := s.cfg.Store.(engine.WebhookPublisher)
	if !ok || s.numEps.Load() == 0 {
		pos, err := publish(ctx, ev, opts)
		if err != nil {
			return nil, err
		}
		return pos, s.Accept(ctx, ev)
	}
	start := time.Now()
	targets, wake := s.targets(ev)
	if len(targets) == 0 || s.ctx.Err() != nil {
		pos, err := publish(ctx, ev, opts)
		if err != nil {
			return nil, err
		}
		if len(targets) > 0 {
			return pos, errStopped
		}
		return pos, nil
	}
	prepared := time.Since(start)
	pos, dropped, err := pub.PublishQueued(ctx, ev, opts, targets, s.cfg.QueueMax)
	if err != nil {
		return nil, err
	}
	s.queued(len(targets), func(i int) string { return targets[i].Endpoint }, dropped)
	for _, w := range wake {
		w.wake()
	}
	// The publish's script does the queueing itself: what webhooks add
	// to the publish here is choosing the targets.
	acceptSeconds.Observe(prepared.Seconds())
	return pos, nil
}

// targets lists the endpoints that want ev, and the workers to wake once
// it is queued.
func (s *Service) targets(ev *pb.Event) ([]engine.WebhookTarget, []*worker) {
	typ, ok := s.cfg.Encoding.Type(ev)
	if !ok {
		return nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var targets []engine.WebhookTarget
	var wake []*worker
	for name, e := range s.eps {
		if !e.wants(typ) {
			continue
		}
		targets = append(targets, engine.WebhookTarget{Endpoint: name, Full: e.full()})
		if w := s.workers[name]; w != nil {
			wake = append(wake, w)
		}
	}
	return targets, wake
}

var errStopped = errors.New("webhook: service stopped")

// push writes items to the store and counts them; the caller wakes the
// workers concerned.
func (s *Service) push(ctx context.Context, items []engine.WebhookPush) error {
	if s.ctx.Err() != nil {
		return errStopped
	}
	dropped, err := s.cfg.Store.WebhookPush(ctx, items, s.cfg.QueueMax)
	if err != nil {
		s.log.Error("queue webhook events", "events", len(items), "err", err)
		return err
	}
	s.queued(len(items), func(i int) string { return items[i].Endpoint }, dropped)
	return nil
}

// queued counts n items queued for the endpoints endpoint(0..n-1), and
// those dropped from full queues.
func (s *Service) queued(n int, endpoint func(int) string, dropped map[string]int) {
	for i := range n {
		queuedTotal.WithLabelValues(endpoint(i)).Inc()
	}
	for ep, n := range dropped {
		deadLetteredTotal.WithLabelValues(ep, "queue_full").Add(float64(n))
		s.log.Warn("webhook queue full: oldest events dead-lettered", "endpoint", ep, "dropped", n, "queue_max", s.cfg.QueueMax)
	}
}

// Status is what List reports of one endpoint.
type Status struct {
	Name         string
	Endpoint     Endpoint
	Queued       int // events waiting (every node's)
	Delivered    uint64
	Retried      uint64
	DeadLettered uint64
	LastError    string
	LastErrorAt  time.Time
}

// List reports every endpoint with its queue depth and this node's counts.
func (s *Service) List(ctx context.Context) ([]Status, error) {
	s.mu.Lock()
	out := make([]Status, 0, len(s.workers))
	for name, w := range s.workers {
		out = append(out, w.status(name))
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	for i := range out {
		n, err := s.cfg.Store.WebhookLen(ctx, out[i].Name)
		if err != nil {
			return nil, err
		}
		out[i].Queued = n
	}
	return out, nil
}
