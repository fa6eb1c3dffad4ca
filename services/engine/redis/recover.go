package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/services/engine"
)

// Recovery after the pub/sub link broke.
//
// Redis pub/sub keeps nothing for a subscriber that is gone, so whatever was
// published while this node's link was down never reached it. The node keeps,
// for each channel it subscribes by name, the position of the last event it
// delivered (or, before the first one, the channel's position when it
// subscribed). From the moment the link breaks until it is back, every
// event that arrives is held. Once the new connection has subscribed
// everything again, each channel's history is read from its position and
// the missed events are delivered, then the held ones (skipping those the
// history already gave), and only then does the node take publishes again.
// Whatever cannot be recovered is reported to the handler as an
// engine.Gap, in order with the channel's events:
//
//   - history since the position is gone (trimmed, expired, or a new epoch
//     after Redis lost its data), or could not be read;
//   - a pattern subscription (every channel of a tenant): which channels
//     missed something cannot be known, so its tenant is reported whole;
//   - a channel whose offset did not move (Gap.Unnumbered): events kept
//     without history carry no offset, so only the hub, which knows the
//     channel's options, can tell whether one may be missing;
//   - more events arrived during the recovery than it holds (maxHeld).
//
// A live event that a recovery already read from history (it was published
// after the new SUBSCRIBE, and its live copy came after the read) is
// skipped. The bookkeeping on the delivery path is one map lookup, one
// comparison and two field writes per event, under a mutex only the
// connection's reader goroutine takes outside a recovery.

// maxHeld bounds the events held while a recovery runs; events beyond it
// are dropped and their channels reported as gaps.
const maxHeld = 1 << 16

// recoverWorkers bounds the history reads a recovery runs at once.
const recoverWorkers = 16

// chanPos is what the node delivered on one channel subscribed by name.
type chanPos struct {
	tenant, channel string
	offset          uint64
	epoch           string
}

type heldEvent struct {
	name  string // pub/sub channel it came on
	exact bool   // the channel is subscribed by name (its position is kept)
	ev    *pb.Event
}

// delivery is the link's delivery state, guarded by dmu. Lock order:
// link.mu before dmu; the reader goroutine takes only dmu.
type delivery struct {
	dmu     sync.Mutex
	pos     map[string]*chanPos // pub/sub channel → last delivered position
	holding bool                // the link is down or recovering: events wait in held
	held    []heldEvent
	dropped map[string]chanPos // channels of events dropped beyond maxHeld

	recovered atomic.Uint64 // events delivered from history after a reconnection
}

// deliver hands ev, received on the pub/sub channel name, to the handler,
// or holds it while a recovery is due. exact says the channel is subscribed
// by name, so that its position is kept.
func (l *link) deliver(name string, exact bool, ev *pb.Event) {
	l.dmu.Lock()
	defer l.dmu.Unlock()
	if l.holding {
		if len(l.held) < maxHeld {
			l.held = append(l.held, heldEvent{name: name, exact: exact, ev: ev})
		} else if exact {
			if l.dropped == nil {
				l.dropped = map[string]chanPos{}
			}
			l.dropped[name] = chanPos{tenant: ev.Tenant, channel: ev.Channel}
		}
		return
	}
	if exact {
		if p := l.pos[name]; p != nil {
			if ev.Offset != 0 && ev.Offset <= p.offset && ev.Epoch == p.epoch {
				// A recovery read it from history before its live
				// copy arrived.
				return
			}
			p.offset, p.epoch = ev.Offset, ev.Epoch
		}
	}
	l.handle(ev)
}

// handle passes ev to the Run handler, if one runs. Callers hold dmu.
func (l *link) handle(ev *pb.Event) {
	if b := l.e.handler.Load(); b != nil {
		b.h.HandleEvent(ev)
	}
}

// gap passes g to the Run handler, if one runs. Callers hold dmu.
func (l *link) gap(g *engine.Gap) {
	level := slog.LevelWarn
	if g.Unnumbered {
		level = slog.LevelDebug // lost only if the channel keeps no history
	}
	l.e.log.Log(l.e.ctx, level, "events may be lost", "tenant", g.Tenant, "channel", g.Channel,
		"from", g.From.String(), "to", g.To.String(), "unnumbered", g.Unnumbered)
	if b := l.e.handler.Load(); b != nil {
		b.h.HandleGap(g)
	}
}

// hold starts holding events: the link is down.
func (l *link) hold() {
	l.dmu.Lock()
	l.holding = true
	l.dmu.Unlock()
}

// start reads the channel's position before its first SUBSCRIBE, so that a
// recovery knows where to start before anything was delivered. Callers hold
// l.mu.
func (l *link) start(ctx context.Context, name, tenant, channel string) error {
	e := l.e
	res, err := positionScript.Exec(ctx, e.client,
		[]string{e.n.histMeta(tenant, channel), e.n.histList(tenant, channel)},
		[]string{strconv.FormatInt(ms(e.opts.MetaTTL), 10), engine.NewEpoch()}).ToArray()
	if err != nil {
		return fmt.Errorf("redis: subscribe: read position: %w: %w", engine.ErrUnavailable, err)
	}
	if len(res) != 2 {
		return fmt.Errorf("redis: subscribe: read position: %w", errReply)
	}
	epoch, err1 := res[0].ToString()
	top, err2 := res[1].AsInt64()
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("redis: subscribe: read position: %w", err)
	}
	l.dmu.Lock()
	l.pos[name] = &chanPos{tenant: tenant, channel: channel, offset: uint64(top), epoch: epoch}
	l.dmu.Unlock()
	return nil
}

// forget drops the position of a channel no longer subscribed. Callers
// hold l.mu.
func (l *link) forget(name string) {
	l.dmu.Lock()
	delete(l.pos, name)
	l.dmu.Unlock()
}

// recovery is one channel's part of a recovery.
type recovery struct {
	name   string
	from   chanPos
	events []*pb.Event
	top    *pb.StreamPosition
	err    error
}

// recover runs after a reconnection subscribed everything again: it
// delivers from history what each channel missed, reports what it cannot
// recover, releases the held events and stops holding.
func (l *link) recover(ctx context.Context) {
	l.mu.Lock()
	patterns := make(map[string]string, len(l.ptenants))
	for p, t := range l.ptenants {
		patterns[p] = t
	}
	l.dmu.Lock()
	work := make([]*recovery, 0, len(l.pos))
	for name, p := range l.pos {
		work = append(work, &recovery{name: name, from: *p})
	}
	l.dmu.Unlock()
	l.mu.Unlock()

	l.readHistory(ctx, work)
	if l.e.ctx.Err() != nil {
		return // closing: nobody is left to tell
	}

	l.dmu.Lock()
	defer l.dmu.Unlock()
	n := 0
	for _, r := range work {
		p := l.pos[r.name]
		if p == nil {
			continue // unsubscribed meanwhile
		}
		n += l.apply(p, r)
	}
	for _, tenant := range patterns {
		l.gap(&engine.Gap{Tenant: tenant, Channel: engine.AllChannels})
	}
	for _, h := range l.held {
		if h.exact {
			if p := l.pos[h.name]; p != nil {
				if h.ev.Offset != 0 && h.ev.Epoch == p.epoch && h.ev.Offset <= p.offset {
					continue // delivered from history already
				}
				p.offset, p.epoch = h.ev.Offset, h.ev.Epoch
			}
		}
		l.handle(h.ev)
	}
	for name, d := range l.dropped {
		g := &engine.Gap{Tenant: d.tenant, Channel: d.channel}
		if p := l.pos[name]; p != nil {
			g.From = &pb.StreamPosition{Offset: p.offset, Epoch: p.epoch}
		}
		l.gap(g)
	}
	clear(l.held)
	l.held, l.dropped, l.holding = nil, nil, false
	l.recovered.Add(uint64(n))
	if n > 0 {
		l.e.log.Info("recovered events missed while the pub/sub link was down", "events", n, "channels", len(work))
	}
}

// readHistory reads, for every channel of work, the history after its
// position, a few channels at a time.
func (l *link) readHistory(ctx context.Context, work []*recovery) {
	var wg sync.WaitGroup
	next := make(chan *recovery)
	for range min(recoverWorkers, len(work)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range next {
				since := &pb.StreamPosition{Offset: r.from.offset, Epoch: r.from.epoch}
				q := engine.HistoryQuery{Since: since}
				r.events, r.top, r.err = l.e.History(ctx, r.from.tenant, r.from.channel, q)
				if r.err != nil && !errors.Is(r.err, engine.ErrPositionGone) && ctx.Err() == nil {
					// A pooled connection may still hold the socket of
					// a server that restarted: it fails once.
					r.events, r.top, r.err = l.e.History(ctx, r.from.tenant, r.from.channel, q)
				}
			}
		}()
	}
	for _, r := range work {
		next <- r
	}
	close(next)
	wg.Wait()
}

// apply delivers what one channel's history gave, or reports its gap, and
// moves the channel's position on. It returns the events delivered.
// Callers hold dmu.
func (l *link) apply(p *chanPos, r *recovery) int {
	from := &pb.StreamPosition{Offset: r.from.offset, Epoch: r.from.epoch}
	switch {
	case r.err != nil:
		g := &engine.Gap{Tenant: p.tenant, Channel: p.channel, From: from}
		if errors.Is(r.err, engine.ErrPositionGone) {
			g.To = r.top
			// The channel goes on from its current top: the next
			// break must not report this gap again.
			p.offset, p.epoch = r.top.GetOffset(), r.top.GetEpoch()
		}
		l.gap(g)
		return 0
	case len(r.events) == 0:
		if p.offset == 0 || r.from.offset == 0 {
			// Nothing numbered was missed; the hub decides whether
			// the channel could have had unnumbered events.
			l.gap(&engine.Gap{Tenant: p.tenant, Channel: p.channel, From: from, To: r.top, Unnumbered: true})
		}
		return 0
	}
	n := 0
	for _, ev := range r.events {
		if ev.Epoch != p.epoch || ev.Offset <= p.offset {
			continue // delivered live before the link broke
		}
		p.offset = ev.Offset
		l.handle(ev)
		n++
	}
	return n
}
