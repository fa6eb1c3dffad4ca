package redis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"
	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/services/engine"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Errors for calls the engine contract rules out.
var (
	errNilEvent   = errors.New("redis: nil event")
	errDirected   = errors.New("redis: directed event must travel as control")
	errNilControl = errors.New("redis: nil control")
	errWildTenant = errors.New("redis: all tenants can only be subscribed with all channels")
	errReply      = errors.New("redis: unexpected reply")
)

// ms converts a duration to whole milliseconds, rounding a positive
// sub-millisecond duration up so that it does not turn into "none".
func ms(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return max(d.Milliseconds(), 1)
}

// Publish runs one script that assigns the offset and epoch, keeps the
// event and publishes it, so all of it is atomic per channel and the
// publish order on the pub/sub channel is the offset order.
func (e *Engine) Publish(ctx context.Context, ev *pb.Event, opts engine.HistoryOptions) (*pb.StreamPosition, error) {
	pos, _, err := e.publish(ctx, ev, opts, nil, 0)
	return pos, err
}

// PublishQueued is Publish that appends the event to webhook queues in the
// same script call: one round trip, atomic with the publish.
func (e *Engine) PublishQueued(ctx context.Context, ev *pb.Event, opts engine.HistoryOptions, targets []engine.WebhookTarget, max int) (*pb.StreamPosition, map[string]int, error) {
	return e.publish(ctx, ev, opts, targets, max)
}

var _ engine.WebhookPublisher = (*Engine)(nil)

// publish runs publishScript, or publishQueuedScript when there are
// targets, and returns the position and the count dropped per target.
func (e *Engine) publish(ctx context.Context, ev *pb.Event, opts engine.HistoryOptions, targets []engine.WebhookTarget, max int) (*pb.StreamPosition, map[string]int, error) {
	if err := e.check(); err != nil {
		return nil, nil, err
	}
	if ev == nil {
		return nil, nil, errNilEvent
	}
	if ev.To.GetUser() != "" || ev.To.GetSession() != "" {
		return nil, nil, errDirected
	}
	if !e.link.up.Load() {
		// This node would not receive its own event: refuse rather than
		// acknowledge what its subscribers may never see.
		return nil, nil, fmt.Errorf("redis: publish: %w", errLinkDown)
	}
	if ev.Id == "" {
		ev.Id = engine.NewID()
	}
	if ev.Time == nil {
		ev.Time = timestamppb.Now()
	}
	c := engine.CloneEvent(ev)
	c.Offset, c.Epoch = 0, "" // the script appends them
	payload, err := proto.Marshal(c)
	if err != nil {
		return nil, nil, failf("redis: encode event: %w", err)
	}
	size, ttl := 0, int64(0)
	if opts.Enabled() {
		size, ttl = opts.Size, ms(opts.TTL)
	}
	script := publishScript
	keys := []string{e.n.histMeta(ev.Tenant, ev.Channel), e.n.histList(ev.Tenant, ev.Channel)}
	args := []string{
		rueidis.BinaryString(payload), strconv.Itoa(size), strconv.FormatInt(ttl, 10),
		strconv.FormatInt(ms(e.opts.MetaTTL), 10), engine.NewEpoch(), e.n.event(ev.Tenant, ev.Channel),
	}
	if len(targets) > 0 {
		script = publishQueuedScript
		args = append(args, strconv.Itoa(max))
		for _, t := range targets {
			keys = append(keys, e.n.webhookQueue(t.Endpoint), e.n.webhookSeq(t.Endpoint))
			flag := "0"
			if t.Full {
				flag = "1"
			}
			args = append(args, flag)
		}
	}
	res, err := script.Exec(ctx, e.client, keys, args).ToArray()
	if err != nil {
		return nil, nil, failf("redis: publish: %w", err)
	}
	if len(res) != 2+len(targets) {
		return nil, nil, fmt.Errorf("redis: publish: %w", errReply)
	}
	offset, err1 := res[0].AsInt64()
	epoch, err2 := res[1].ToString()
	if err := errors.Join(err1, err2); err != nil {
		return nil, nil, failf("redis: publish reply: %w", err)
	}
	var dropped map[string]int
	for i, t := range targets {
		if n, err := res[2+i].AsInt64(); err == nil && n > 0 {
			if dropped == nil {
				dropped = map[string]int{}
			}
			dropped[t.Endpoint] = int(n)
		}
	}
	ev.Offset, ev.Epoch = uint64(offset), epoch
	return &pb.StreamPosition{Offset: ev.Offset, Epoch: epoch}, dropped, nil
}

// History reads the channel's kept events in one script.
func (e *Engine) History(ctx context.Context, tenant, channel string, q engine.HistoryQuery) ([]*pb.Event, *pb.StreamPosition, error) {
	if err := e.check(); err != nil {
		return nil, nil, err
	}
	sinceGiven, sinceOffset, sinceEpoch := "0", "0", ""
	if q.Since != nil {
		sinceGiven, sinceOffset, sinceEpoch = "1", strconv.FormatUint(q.Since.Offset, 10), q.Since.Epoch
	}
	reverse := "0"
	if q.Reverse {
		reverse = "1"
	}
	res, err := historyScript.Exec(ctx, e.client,
		[]string{e.n.histMeta(tenant, channel), e.n.histList(tenant, channel)},
		[]string{
			strconv.FormatInt(ms(e.opts.MetaTTL), 10), engine.NewEpoch(), sinceGiven, sinceOffset, sinceEpoch,
			strconv.Itoa(max(q.Limit, 0)), reverse,
		}).ToArray()
	if err != nil {
		return nil, nil, failf("redis: history: %w", err)
	}
	if len(res) < 3 {
		return nil, nil, fmt.Errorf("redis: history: %w", errReply)
	}
	epoch, err1 := res[0].ToString()
	top, err2 := res[1].AsInt64()
	ok, err3 := res[2].AsInt64()
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, nil, failf("redis: history reply: %w", err)
	}
	pos := &pb.StreamPosition{Offset: uint64(top), Epoch: epoch}
	if ok == 0 {
		return nil, pos, engine.ErrPositionGone
	}
	var evs []*pb.Event
	for _, m := range res[3:] {
		s, err := m.ToString()
		if err != nil {
			return nil, nil, failf("redis: history entry: %w", err)
		}
		ev, err := parseEntry(s)
		if err != nil {
			return nil, nil, err
		}
		evs = append(evs, ev)
	}
	if q.Reverse {
		slices.Reverse(evs)
	}
	return evs, pos, nil
}

var errBadEntry = errors.New("redis: malformed history entry")

// parseEntry decodes a history entry: "<expiry ms>:<encoded event>".
func parseEntry(s string) (*pb.Event, error) {
	i := strings.IndexByte(s, ':')
	if i < 1 {
		return nil, errBadEntry
	}
	if _, err := strconv.ParseInt(s[:i], 10, 64); err != nil {
		return nil, fmt.Errorf("%w: %w", errBadEntry, err)
	}
	ev := &pb.Event{}
	if err := proto.Unmarshal([]byte(s[i+1:]), ev); err != nil {
		return nil, fmt.Errorf("%w: %w", errBadEntry, err)
	}
	return ev, nil
}

// Subscribe subscribes this node's pub/sub link to the channel's event
// channel, or to its tenant's (or every tenant's) pattern.
func (e *Engine) Subscribe(ctx context.Context, tenant, channel string) error {
	if err := e.check(); err != nil {
		return err
	}
	name, pattern, err := e.subscription(tenant, channel)
	if err != nil {
		return err
	}
	return e.link.subscribe(ctx, name, pattern, tenant, channel)
}

// Unsubscribe drops one Subscribe. Once the last one returns, no event of
// the channel is delivered any more (unless another subscription covers it).
func (e *Engine) Unsubscribe(ctx context.Context, tenant, channel string) error {
	if err := e.check(); err != nil {
		return err
	}
	name, pattern, err := e.subscription(tenant, channel)
	if err != nil {
		return err
	}
	return e.link.unsubscribe(ctx, name, pattern)
}

// subscription names what to (P)SUBSCRIBE for a tenant and channel.
func (e *Engine) subscription(tenant, channel string) (name string, pattern bool, err error) {
	switch {
	case tenant == engine.AllTenants && channel == engine.AllChannels:
		return e.n.allPattern, true, nil
	case tenant == engine.AllTenants:
		return "", false, errWildTenant
	case channel == engine.AllChannels:
		return e.n.tenantPattern(tenant), true, nil
	}
	return e.n.event(tenant, channel), false, nil
}

// PublishControl publishes c on the control channel every node listens to.
func (e *Engine) PublishControl(ctx context.Context, c *engine.Control) error {
	if err := e.check(); err != nil {
		return err
	}
	if c == nil {
		return errNilControl
	}
	if !e.link.up.Load() {
		// Orders reach this node's own sessions through its link too.
		return fmt.Errorf("redis: publish control: %w", errLinkDown)
	}
	b, err := encodeControl(c)
	if err != nil {
		return err
	}
	cmd := e.client.B().Publish().Channel(e.n.control).Message(rueidis.BinaryString(b)).Build()
	if err := e.client.Do(ctx, cmd).Error(); err != nil {
		return failf("redis: publish control: %w", err)
	}
	return nil
}
