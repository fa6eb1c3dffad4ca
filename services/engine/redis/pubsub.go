package redis

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/redis/rueidis"
	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"google.golang.org/protobuf/proto"
)

// link is this node's one pub/sub connection. It holds the reference-counted
// set of wanted subscriptions and, while connected, the connection they are
// live on. When the connection breaks, run re-dials, subscribes the whole
// set again and recovers what was published meanwhile from history, or
// reports the gap (recover.go).
type link struct {
	e  *Engine
	up atomic.Bool // connected, subscribed and recovered: the node can deliver

	// mu guards the sets and conn, and serializes SUBSCRIBE and
	// UNSUBSCRIBE commands so that they reach Redis in the order the
	// reference counts changed.
	mu       sync.Mutex
	channels map[string]int    // pub/sub channel → Subscribe count
	patterns map[string]int    // pattern → Subscribe count
	ptenants map[string]string // pattern → its tenant (AllTenants for every tenant)
	conn     *linkConn         // nil while down

	delivery // what was delivered, and events held during a recovery

	// gate, when set (tests), holds reconnection attempts until closed.
	gate atomic.Pointer[chan struct{}]
}

// resubscribeBatch bounds the names sent in one SUBSCRIBE after a reconnect.
const resubscribeBatch = 512

// Backoff between reconnection attempts.
const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = 2 * time.Second
)

func newLink(e *Engine) *link {
	return &link{
		e: e, channels: map[string]int{}, patterns: map[string]int{}, ptenants: map[string]string{},
		delivery: delivery{pos: map[string]*chanPos{}},
	}
}

// linkConn is one dedicated connection and what Redis confirmed on it.
type linkConn struct {
	e       *Engine
	dc      rueidis.DedicatedClient
	release func()
	done    <-chan error // closed when the connection ends
	id      int64        // CLIENT ID, lets tests cut this connection

	// Subscriptions Redis confirmed, in the order it sent them relative
	// to messages. Only the connection's reader goroutine (which calls
	// the hooks one at a time) touches them, so they need no lock.
	wireChannels map[string]bool
	wirePatterns map[string]bool
}

// connect dials a dedicated connection and subscribes everything wanted.
func (l *link) connect(ctx context.Context) error {
	dc, release := l.e.client.Dedicate()
	c := &linkConn{
		e: l.e, dc: dc, release: release,
		wireChannels: map[string]bool{}, wirePatterns: map[string]bool{},
	}
	c.done = dc.SetPubSubHooks(rueidis.PubSubHooks{OnMessage: c.onMessage, OnSubscription: c.onSubscription})
	id, err := dc.Do(ctx, dc.B().ClientId().Build()).AsInt64()
	if err != nil {
		release()
		return fmt.Errorf("client id: %w", err)
	}
	c.id = id

	l.mu.Lock()
	defer l.mu.Unlock()
	channels := []string{l.e.n.control}
	for ch := range l.channels {
		channels = append(channels, ch)
	}
	patterns := make([]string, 0, len(l.patterns))
	for p := range l.patterns {
		patterns = append(patterns, p)
	}
	for len(channels) > 0 {
		n := min(len(channels), resubscribeBatch)
		if err := dc.Do(ctx, dc.B().Subscribe().Channel(channels[:n]...).Build()).Error(); err != nil {
			release()
			return fmt.Errorf("subscribe: %w", err)
		}
		channels = channels[n:]
	}
	for len(patterns) > 0 {
		n := min(len(patterns), resubscribeBatch)
		if err := dc.Do(ctx, dc.B().Psubscribe().Pattern(patterns[:n]...).Build()).Error(); err != nil {
			release()
			return fmt.Errorf("psubscribe: %w", err)
		}
		patterns = patterns[n:]
	}
	l.conn = c
	return nil
}

// run watches the connection and re-establishes it until the engine closes.
func (l *link) run() {
	defer l.e.wg.Done()
	for {
		l.mu.Lock()
		c := l.conn
		l.mu.Unlock()
		select {
		case err := <-c.done:
			l.e.log.Warn("pub/sub link lost; reconnecting", "err", err)
			l.drop(c)
		case <-l.e.done:
			l.drop(c)
			return
		}
		backoff := minBackoff
		for {
			select {
			case <-l.e.done:
				return
			case <-time.After(backoff):
			}
			if g := l.gate.Load(); g != nil {
				select {
				case <-*g:
				case <-l.e.done:
					return
				}
			}
			ctx, cancel := context.WithTimeout(l.e.ctx, 10*time.Second)
			err := l.connect(ctx)
			if err == nil {
				l.recover(ctx)
				l.up.Store(true)
			}
			cancel()
			if err == nil {
				l.e.log.Info("pub/sub link restored")
				break
			}
			l.e.log.Warn("pub/sub reconnect failed", "err", err, "retry_in", backoff)
			backoff = min(2*backoff, maxBackoff)
		}
	}
}

// drop marks the link down and gives the connection back. From now until
// the recovery after the next connection, events are held (see recover).
func (l *link) drop(c *linkConn) {
	l.mu.Lock()
	if l.conn == c {
		l.conn = nil
		l.up.Store(false)
		l.hold()
	}
	l.mu.Unlock()
	c.release()
}

// subscribe adds one reference to a channel of a tenant (or, with pattern,
// to a tenant's pattern). The first reference subscribes on Redis, and
// returns once Redis confirmed it: any message published after that reaches
// this node. Before subscribing a channel it reads the channel's position,
// from which a later recovery starts if nothing was delivered meanwhile.
func (l *link) subscribe(ctx context.Context, name string, pattern bool, tenant, channel string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	set := l.channels
	if pattern {
		set = l.patterns
	}
	if set[name] > 0 {
		set[name]++
		return nil
	}
	if l.conn == nil {
		return failf("redis: subscribe: %w", errLinkDown)
	}
	if !pattern {
		if err := l.start(ctx, name, tenant, channel); err != nil {
			return err
		}
	}
	dc := l.conn.dc
	cmd := dc.B().Subscribe().Channel(name).Build()
	if pattern {
		cmd = dc.B().Psubscribe().Pattern(name).Build()
	}
	if err := dc.Do(ctx, cmd).Error(); err != nil {
		// The command may still have reached Redis; take it back so
		// that no unreferenced subscription lingers.
		l.unsubscribeWire(name, pattern)
		l.forget(name)
		return failf("redis: subscribe: %w", err)
	}
	set[name] = 1
	if pattern {
		l.ptenants[name] = tenant
	}
	return nil
}

// unsubscribe drops one reference; the last one unsubscribes on Redis.
func (l *link) unsubscribe(ctx context.Context, name string, pattern bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	set := l.channels
	if pattern {
		set = l.patterns
	}
	switch n := set[name]; {
	case n == 0:
		return nil
	case n > 1:
		set[name] = n - 1
		return nil
	}
	delete(set, name)
	delete(l.ptenants, name)
	l.forget(name)
	if l.conn == nil {
		return nil // the next connection will not subscribe it
	}
	if err := l.unsubscribeWireCtx(ctx, name, pattern); err != nil {
		return failf("redis: unsubscribe: %w", err)
	}
	return nil
}

// unsubscribeWire sends a best-effort UNSUBSCRIBE. Callers hold l.mu.
func (l *link) unsubscribeWire(name string, pattern bool) {
	ctx, cancel := context.WithTimeout(l.e.ctx, 5*time.Second)
	defer cancel()
	if err := l.unsubscribeWireCtx(ctx, name, pattern); err != nil {
		l.e.log.Warn("pub/sub unsubscribe failed", "err", err)
	}
}

func (l *link) unsubscribeWireCtx(ctx context.Context, name string, pattern bool) error {
	if l.conn == nil {
		return nil
	}
	dc := l.conn.dc
	cmd := dc.B().Unsubscribe().Channel(name).Build()
	if pattern {
		cmd = dc.B().Punsubscribe().Pattern(name).Build()
	}
	return dc.Do(ctx, cmd).Error()
}

// onSubscription tracks what Redis confirmed, in stream order with the
// messages.
func (c *linkConn) onSubscription(s rueidis.PubSubSubscription) {
	switch s.Kind {
	case "subscribe":
		c.wireChannels[s.Channel] = true
	case "unsubscribe":
		delete(c.wireChannels, s.Channel)
	case "psubscribe":
		c.wirePatterns[s.Channel] = true
	case "punsubscribe":
		delete(c.wirePatterns, s.Channel)
	}
}

// bytesOf views s as bytes without copying it, for decoders that only read
// their input and copy out what they keep (proto.Unmarshal and
// json.Unmarshal do): a message is decoded once on the reader goroutine,
// and a copy of every payload is garbage the whole node pays for.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// onMessage decodes a message and hands it to the Run handler. It runs on
// the connection's reader goroutine, one message at a time, in the order
// Redis sent them, which is publish order: that is the engine's ordering
// guarantee.
//
// Redis sends one copy of a publish per matching subscription, so a node
// subscribed to a channel and to its tenant (or to everything) receives
// several copies, back to back. Exactly one is delivered: the copy of the
// most general subscription live when Redis sent it. The live set is known
// precisely because confirmations arrive in stream order with messages.
func (c *linkConn) onMessage(m rueidis.PubSubMessage) {
	e := c.e
	if m.Pattern == "" && m.Channel == e.n.control {
		ctl, err := decodeControl(bytesOf(m.Message))
		if err != nil {
			e.log.Error("undecodable control order", "err", err)
			return
		}
		if b := e.handler.Load(); b != nil {
			b.h.HandleControl(ctl)
		}
		return
	}
	all := c.wirePatterns[e.n.allPattern]
	if m.Pattern != "" && m.Pattern != e.n.allPattern && all {
		return // a tenant pattern's copy; the all-tenants copy is delivered
	}
	ev := &pb.Event{}
	if err := proto.Unmarshal(bytesOf(m.Message), ev); err != nil {
		e.log.Error("undecodable event", "channel", m.Channel, "err", err)
		return
	}
	if m.Pattern == "" && (all || (len(c.wirePatterns) > 0 && c.wirePatterns[e.n.tenantPattern(ev.Tenant)])) {
		return // an exact channel's copy; a pattern's copy is delivered
	}
	e.link.deliver(m.Channel, m.Pattern == "" || c.wireChannels[m.Channel], ev)
}
