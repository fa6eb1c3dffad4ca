package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
	"github.com/switchboard-hub/switchboard/services/engine"
)

// Defaults for Options left zero.
const (
	DefaultAddress = "127.0.0.1:6379"
	DefaultPrefix  = "switchboard"
	// DefaultMetaTTL keeps a channel's offset and epoch for an hour after
	// its last publish or read, when that is longer than its history TTL.
	DefaultMetaTTL = time.Hour
	// DefaultQueueTTL drops an offline user's queue a day after the last
	// event was queued.
	DefaultQueueTTL = 24 * time.Hour
	// DefaultNodeTTL: a node not updated for this long is no longer listed.
	DefaultNodeTTL = 10 * time.Second
	// DefaultPresenceTTL: presence entries and user sessions of a node
	// that stopped refreshing them (it died) vanish after this long. Each
	// node refreshes its own entries three times per TTL.
	DefaultPresenceTTL = 30 * time.Second
)

// Options configure the Redis engine. Zero fields take the defaults above.
type Options struct {
	Address  string // host:port of the Redis server
	Username string
	Password string
	DB       int
	// Prefix starts every key and pub/sub channel, so that several
	// Switchboard clusters (or test runs) can share one Redis. One prefix
	// must not be another followed by a dot.
	Prefix      string
	MetaTTL     time.Duration
	QueueTTL    time.Duration
	NodeTTL     time.Duration
	PresenceTTL time.Duration
	Logger      *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Address == "" {
		o.Address = DefaultAddress
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.MetaTTL <= 0 {
		o.MetaTTL = DefaultMetaTTL
	}
	if o.QueueTTL <= 0 {
		o.QueueTTL = DefaultQueueTTL
	}
	if o.NodeTTL <= 0 {
		o.NodeTTL = DefaultNodeTTL
	}
	if o.PresenceTTL <= 0 {
		o.PresenceTTL = DefaultPresenceTTL
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

var errRunning = errors.New("redis: engine already running")

// Engine is an engine.Engine on a Redis server shared by every node.
type Engine struct {
	opts   Options
	client rueidis.Client
	n      names
	log    *slog.Logger

	handler atomic.Pointer[handlerBox]
	link    *link
	own     owned

	closed    atomic.Bool
	done      chan struct{}
	ctx       context.Context // ends on Close; bounds background work
	cancel    context.CancelFunc
	closeOnce sync.Once
	wg        sync.WaitGroup
}

type handlerBox struct{ h engine.Handler }

var _ engine.Engine = (*Engine)(nil)

// New connects to Redis and opens the pub/sub link. It fails when Redis
// cannot be reached; after that, lost connections are re-established in the
// background.
func New(ctx context.Context, opts Options) (*Engine, error) {
	opts = opts.withDefaults()
	client, err := rueidis.NewClient(rueidis.ClientOption{
		InitAddress:  []string{opts.Address},
		Username:     opts.Username,
		Password:     opts.Password,
		SelectDB:     opts.DB,
		ClientName:   "switchboard",
		DisableCache: true, // no client-side caching: every read must see other nodes' writes
	})
	if err != nil {
		return nil, fmt.Errorf("redis: connect to %s: %w", opts.Address, err)
	}
	e := &Engine{
		opts:   opts,
		client: client,
		n:      newNames(opts.Prefix),
		log:    opts.Logger.With("engine", "redis"),
		done:   make(chan struct{}),
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.own.init()
	e.link = newLink(e)
	if err := e.link.connect(ctx); err != nil {
		e.cancel()
		client.Close()
		return nil, fmt.Errorf("redis: open pub/sub link: %w", err)
	}
	e.link.up.Store(true)
	e.wg.Add(2)
	go e.link.run()
	go e.refreshLoop()
	return e, nil
}

func (e *Engine) check() error {
	if e.closed.Load() {
		return engine.ErrClosed
	}
	return nil
}

// Run hands events and control orders to h until ctx ends (returns nil) or
// the engine is closed (returns engine.ErrClosed). Messages that arrive
// while no Run is active are dropped.
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

// errLinkDown: the pub/sub connection is being re-established (or what it
// missed is being recovered).
var errLinkDown = fmt.Errorf("redis: pub/sub link down: %w", engine.ErrUnavailable)

// Healthy fails while the pub/sub link is down or Redis does not answer.
func (e *Engine) Healthy(ctx context.Context) error {
	if err := e.check(); err != nil {
		return err
	}
	if !e.link.up.Load() {
		return errLinkDown
	}
	if err := e.client.Do(ctx, e.client.B().Ping().Build()).Error(); err != nil {
		return failf("redis: ping: %w", err)
	}
	return nil
}

// Close stops the link and the refresher and closes the connections. The
// node's presence entries are left to expire (Options.PresenceTTL).
func (e *Engine) Close() error {
	e.closeOnce.Do(func() {
		e.closed.Store(true)
		close(e.done)
		e.cancel()
		e.wg.Wait()
		e.client.Close()
	})
	return nil
}
