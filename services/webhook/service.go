package webhook

import (
	"context"
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
		c.Client = &http.Client{Timeout: c.Timeout}
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

	intake chan *batch // Accept → committer

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// batch is one Accept waiting for its items to be written.
type batch struct {
	items []engine.WebhookPush
	done  chan error
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
		intake:  make(chan *batch, 256),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Start queues a HELLO for every endpoint (a server start opens their
// queues anew) and starts the committer and one worker per endpoint.
func (s *Service) Start(ctx context.Context) error {
	s.wg.Add(1)
	go s.commit()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.apply(ctx, s.cfg.Endpoints)
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
	if s.cfg.Persist != nil {
		if err := s.cfg.Persist(eps); err != nil {
			return fmt.Errorf("webhook: save options: %w", err)
		}
	}
	return s.apply(ctx, eps)
}

// apply makes eps current; s.mu is held.
func (s *Service) apply(ctx context.Context, eps map[string]Endpoint) error {
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
		if _, running := s.workers[name]; running {
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
// forgotten. Concurrent calls share one write.
func (s *Service) Accept(ctx context.Context, ev *pb.Event) error {
	if s.numEps.Load() == 0 {
		return nil
	}
	typ, ok := s.cfg.Encoding.Type(ev)
	if !ok {
		return nil
	}
	s.mu.Lock()
	var items []engine.WebhookPush
	var bodies [2][]byte // by level: none, full
	for name, e := range s.eps {
		if !e.wants(typ) {
			continue
		}
		lvl := 0
		if e.full() {
			lvl = 1
		}
		if bodies[lvl] == nil {
			b, err := s.cfg.Encoding.Body(ev, e.full())
			if err != nil {
				s.mu.Unlock()
				return err
			}
			bodies[lvl] = b
		}
		items = append(items, engine.WebhookPush{Endpoint: name, Body: bodies[lvl]})
	}
	s.mu.Unlock()
	if len(items) == 0 {
		return nil
	}
	return s.push(ctx, items)
}

// push hands items to the committer and waits for the write.
func (s *Service) push(ctx context.Context, items []engine.WebhookPush) error {
	b := &batch{items: items, done: make(chan error, 1)}
	select {
	case s.intake <- b:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.ctx.Done():
		return errStopped
	}
	select {
	case err := <-b.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-s.ctx.Done():
		return errStopped
	}
}

var errStopped = errors.New("webhook: service stopped")

// commit writes what Accept calls hand it, as many at once as are waiting,
// and wakes the workers concerned.
func (s *Service) commit() {
	defer s.wg.Done()
	for {
		var pending []*batch
		select {
		case b := <-s.intake:
			pending = append(pending, b)
		case <-s.ctx.Done():
			return
		}
	more:
		for len(pending) < 256 {
			select {
			case b := <-s.intake:
				pending = append(pending, b)
			default:
				break more
			}
		}
		var items []engine.WebhookPush
		for _, b := range pending {
			items = append(items, b.items...)
		}
		ctx, cancel := context.WithTimeout(s.ctx, s.cfg.Timeout)
		dropped, err := s.cfg.Store.WebhookPush(ctx, items, s.cfg.QueueMax)
		cancel()
		for _, b := range pending {
			b.done <- err
		}
		if err != nil {
			s.log.Error("queue webhook events", "events", len(items), "err", err)
			continue
		}
		woken := map[string]bool{}
		s.mu.Lock()
		for _, it := range items {
			queuedTotal.WithLabelValues(it.Endpoint).Inc()
			if w := s.workers[it.Endpoint]; w != nil && !woken[it.Endpoint] {
				woken[it.Endpoint] = true
				w.wake()
			}
		}
		s.mu.Unlock()
		for ep, n := range dropped {
			deadLetteredTotal.WithLabelValues(ep, "queue_full").Add(float64(n))
			s.log.Warn("webhook queue full: oldest events dead-lettered", "endpoint", ep, "dropped", n, "queue_max", s.cfg.QueueMax)
		}
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
