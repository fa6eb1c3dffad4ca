package memory

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/services/engine"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Errors for calls the engine contract rules out.
var (
	errNilEvent   = errors.New("memory: nil event")
	errDirected   = errors.New("memory: directed event must travel as control")
	errNilControl = errors.New("memory: nil control")
	errWildTenant = errors.New("memory: all tenants can only be subscribed with all channels")
)

// Publish assigns ev its channel's next offset and epoch, keeps a copy when
// opts keep history and hands a copy to the Run handler when this node
// subscribed to the channel. The handler is called under the channel's
// lock, which is what orders one channel's events.
func (e *Engine) Publish(ctx context.Context, ev *pb.Event, opts engine.HistoryOptions) (*pb.StreamPosition, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	if ev == nil {
		return nil, errNilEvent
	}
	if ev.To.GetUser() != "" || ev.To.GetSession() != "" {
		return nil, errDirected
	}
	if ev.Id == "" {
		ev.Id = engine.NewID()
	}
	if ev.Time == nil {
		ev.Time = timestamppb.Now()
	}
	k := key{ev.Tenant, ev.Channel}
	sh := e.shard(k)
	keep := opts.Enabled()
	for {
		st, subscribed := sh.stream(k)
		deliver := subscribed || e.wild.match(k.tenant)
		st.mu.Lock()
		if st.removed.Load() {
			// The sweeper retired it between lookup and lock; the next
			// lookup creates its successor.
			st.mu.Unlock()
			continue
		}
		now := e.now()
		st.trim(now)
		ev.Epoch = st.epoch
		ev.Offset = 0
		if keep {
			st.top++
			ev.Offset = st.top
		}
		pos := &pb.StreamPosition{Offset: ev.Offset, Epoch: ev.Epoch}
		// One copy serves history and the handler: the caller keeps ev.
		var c *pb.Event
		if keep || deliver {
			c = engine.CloneEvent(ev)
		}
		if keep {
			st.push(c, opts.Size, now+int64(opts.TTL))
		}
		st.touch(now + max(int64(opts.TTL), int64(e.opts.MetaTTL)))
		if deliver {
			if b := e.handler.Load(); b != nil {
				b.h.HandleEvent(c)
			}
		}
		st.mu.Unlock()
		return pos, nil
	}
}

// Subscribe makes Publish hand the channel's events to the handler. It is
// reference-counted: each call needs one Unsubscribe.
func (e *Engine) Subscribe(ctx context.Context, tenant, channel string) error {
	if err := e.check(); err != nil {
		return err
	}
	switch {
	case tenant == engine.AllTenants && channel != engine.AllChannels:
		return errWildTenant
	case channel == engine.AllChannels:
		e.wild.add(tenant, 1)
	default:
		k := key{tenant, channel}
		e.shard(k).subscribe(k)
	}
	return nil
}

// Unsubscribe undoes one Subscribe; one without a matching Subscribe does
// nothing. No event is delivered for the channel after the last
// Unsubscribe returns (unless another subscription covers it).
func (e *Engine) Unsubscribe(ctx context.Context, tenant, channel string) error {
	if err := e.check(); err != nil {
		return err
	}
	switch {
	case tenant == engine.AllTenants && channel != engine.AllChannels:
		return errWildTenant
	case channel == engine.AllChannels:
		e.wild.add(tenant, -1)
	default:
		k := key{tenant, channel}
		e.shard(k).unsubscribe(k)
	}
	return nil
}

// History reads the channel's kept events. Reading a channel that has no
// stream yet creates one, so that the epoch a reader sees is the one later
// publishes use.
func (e *Engine) History(ctx context.Context, tenant, channel string, q engine.HistoryQuery) ([]*pb.Event, *pb.StreamPosition, error) {
	if err := e.check(); err != nil {
		return nil, nil, err
	}
	k := key{tenant, channel}
	sh := e.shard(k)
	for {
		st, _ := sh.stream(k)
		st.mu.Lock()
		if st.removed.Load() {
			st.mu.Unlock()
			continue
		}
		now := e.now()
		st.trim(now)
		st.touch(now + int64(e.opts.MetaTTL))
		evs, pos, err := st.query(q)
		st.mu.Unlock()
		return evs, pos, err
	}
}

// PublishControl hands c to the Run handler, one order at a time.
func (e *Engine) PublishControl(ctx context.Context, c *engine.Control) error {
	if err := e.check(); err != nil {
		return err
	}
	if c == nil {
		return errNilControl
	}
	e.ctlMu.Lock()
	defer e.ctlMu.Unlock()
	if b := e.handler.Load(); b != nil {
		b.h.HandleControl(c)
	}
	return nil
}

// wildSubs counts AllChannels subscriptions per tenant (AllTenants for
// everything). The atomic total lets Publish skip the lock when there are
// none, the common case.
type wildSubs struct {
	total   atomic.Int64
	mu      sync.RWMutex
	tenants map[string]int
}

func (w *wildSubs) init() { w.tenants = map[string]int{} }

func (w *wildSubs) add(tenant string, d int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := w.tenants[tenant]
	if n+d < 0 {
		return // an Unsubscribe without Subscribe
	}
	if n+d == 0 {
		delete(w.tenants, tenant)
	} else {
		w.tenants[tenant] = n + d
	}
	w.total.Add(int64(d))
}

// match reports whether a wildcard subscription covers the tenant.
func (w *wildSubs) match(tenant string) bool {
	if w.total.Load() == 0 {
		return false
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.tenants[engine.AllTenants] > 0 || w.tenants[tenant] > 0
}
