package memory

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-hub/switchboard/services/engine"
)

// Defaults for Options left zero.
const (
	// DefaultMetaTTL keeps an idle channel's offset and epoch for an hour,
	// so a client resuming within that hour is told "nothing missed" rather
	// than "position gone" even when the channel's history TTL is shorter.
	DefaultMetaTTL = time.Hour
	// DefaultQueueTTL drops an offline user's queue a day after the last
	// event was queued, so users who never return do not hold memory.
	DefaultQueueTTL = 24 * time.Hour
	// DefaultNodeTTL: a node not updated for this long is no longer listed
	// by Nodes. Nodes report every few seconds, so 10 s survives a missed
	// report or two.
	DefaultNodeTTL = 10 * time.Second
	// DefaultSweepInterval is how often idle channels and expired queues
	// are removed.
	DefaultSweepInterval = 5 * time.Second
)

// Options tune the memory engine. Zero fields take the defaults above.
type Options struct {
	// MetaTTL: how long a channel's offset and epoch outlive its last
	// publish or history read when that is longer than its history TTL.
	MetaTTL time.Duration
	// QueueTTL: how long an offline user's queue outlives its last Enqueue.
	QueueTTL time.Duration
	// NodeTTL: how long a node stays listed after its last UpdateNode.
	NodeTTL time.Duration
	// SweepInterval: how often the sweeper runs.
	SweepInterval time.Duration
}

func (o Options) withDefaults() Options {
	if o.MetaTTL <= 0 {
		o.MetaTTL = DefaultMetaTTL
	}
	if o.QueueTTL <= 0 {
		o.QueueTTL = DefaultQueueTTL
	}
	if o.NodeTTL <= 0 {
		o.NodeTTL = DefaultNodeTTL
	}
	if o.SweepInterval <= 0 {
		o.SweepInterval = DefaultSweepInterval
	}
	return o
}

// errRunning: Run was called while another Run is active.
var errRunning = errors.New("memory: engine already running")

// Engine is the in-memory engine.Engine.
type Engine struct {
	opts  Options
	start time.Time // base of the monotonic clock used for expiry

	shards [numShards]shard
	wild   wildSubs

	handler atomic.Pointer[handlerBox]
	ctlMu   sync.Mutex // one control order at a time reaches the handler

	pres    presence
	users   users
	records records
	nodes   nodes
	admin   adminStore

	closed    atomic.Bool
	done      chan struct{} // closed by Close
	closeOnce sync.Once
	sweeper   sync.WaitGroup
}

// handlerBox lets an interface value sit behind an atomic pointer.
type handlerBox struct{ h engine.Handler }

var _ engine.Engine = (*Engine)(nil)

// New returns an empty engine and starts its sweeper; Close stops it.
func New(opts Options) *Engine {
	e := &Engine{
		opts:  opts.withDefaults(),
		start: time.Now(),
		done:  make(chan struct{}),
	}
	for i := range e.shards {
		e.shards[i].init()
	}
	e.wild.init()
	e.pres.init()
	e.users.init()
	e.nodes.init()
	e.admin.init()
	e.sweeper.Add(1)
	go e.sweepLoop()
	return e
}

// now is the engine's monotonic clock in nanoseconds; wall-clock jumps do
// not expire or revive anything.
func (e *Engine) now() int64 { return int64(time.Since(e.start)) }

func (e *Engine) check() error {
	if e.closed.Load() {
		return engine.ErrClosed
	}
	return nil
}

// Run hands events and control orders to h until ctx ends (returns nil) or
// the engine is closed (returns engine.ErrClosed). Events published while no
// Run is active are not delivered to anyone.
func (e *Engine) Run(ctx context.Context, h engine.Handler) error {
	if err := e.check(); err != nil {
		return err
	}
	box := &handlerBox{h: h}
	if !e.handler.CompareAndSwap(nil, box) {
		return errRunning
	}
	defer e.handler.CompareAndSwap(box, nil)
	select {
	case <-ctx.Done():
		return nil
	case <-e.done:
		return engine.ErrClosed
	}
}

// Healthy is nil until the engine is closed: a single process has nothing
// else to lose.
func (e *Engine) Healthy(ctx context.Context) error { return e.check() }

// Close stops the sweeper and makes every later call return
// engine.ErrClosed. It is idempotent.
func (e *Engine) Close() error {
	e.closeOnce.Do(func() {
		e.closed.Store(true)
		close(e.done)
	})
	e.sweeper.Wait()
	return nil
}

func (e *Engine) sweepLoop() {
	defer e.sweeper.Done()
	t := time.NewTicker(e.opts.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-e.done:
			return
		case <-t.C:
			now := e.now()
			for i := range e.shards {
				e.shards[i].sweep(now)
			}
			e.users.sweep(now, int64(e.opts.QueueTTL))
			e.nodes.sweep(now, int64(e.opts.NodeTTL))
			e.sweepAdmin(time.Now())
		}
	}
}
