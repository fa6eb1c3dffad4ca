package redis

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"
	"google.golang.org/protobuf/proto"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/services/engine"
)

// Webhook queues: a list per endpoint of "<id>:<body>" entries (or
// "<id>:\x00<full flag><event>" for events queued by PublishQueued), oldest
// first, a counter that numbers them, and a lease key naming the node that
// delivers to the endpoint.
func (n names) webhookQueue(ep string) string { return n.prefix + ":wh:q:" + lp(ep) }
func (n names) webhookSeq(ep string) string   { return n.prefix + ":wh:seq:" + lp(ep) }
func (n names) webhookLease(ep string) string { return n.prefix + ":wh:lease:" + lp(ep) }

// KEYS: queue and counter of each endpoint, in pairs. ARGV: max, then pairs
// of (endpoint number from 1, body). Returns the count dropped per endpoint.
var webhookPushScript = rueidis.NewLuaScript(`
local max = tonumber(ARGV[1])
for i = 2, #ARGV, 2 do
  local k = tonumber(ARGV[i])
  local id = redis.call('INCR', KEYS[2 * k])
  redis.call('RPUSH', KEYS[2 * k - 1], id .. ':' .. ARGV[i + 1])
end
local dropped = {}
for k = 1, #KEYS / 2 do
  local d = 0
  if max > 0 then
    local n = redis.call('LLEN', KEYS[2 * k - 1])
    if n > max then
      redis.call('LTRIM', KEYS[2 * k - 1], n - max, -1)
      d = n - max
    end
  end
  dropped[k] = d
end
return dropped
`)

// KEYS[1]: queue. ARGV[1]: id. Pops the items up to and including id.
var webhookAckScript = rueidis.NewLuaScript(`
local upto = tonumber(ARGV[1])
while true do
  local h = redis.call('LINDEX', KEYS[1], 0)
  if not h then return 0 end
  local i = string.find(h, ':', 1, true)
  if tonumber(string.sub(h, 1, i - 1)) > upto then return 0 end
  redis.call('LPOP', KEYS[1])
end
`)

// KEYS[1]: lease. ARGV: owner, ttl ms. 1 when owner holds the lease now.
var webhookLeaseScript = rueidis.NewLuaScript(`
local cur = redis.call('GET', KEYS[1])
if cur == false or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
`)

// KEYS[1]: lease. ARGV[1]: owner.
var webhookReleaseScript = rueidis.NewLuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
end
return 0
`)

// WebhookPush appends items atomically (one script call).
func (e *Engine) WebhookPush(ctx context.Context, items []engine.WebhookPush, max int) (map[string]int, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	index := map[string]int{}
	var keys, eps []string
	args := []string{strconv.Itoa(max)}
	for _, it := range items {
		k, ok := index[it.Endpoint]
		if !ok {
			eps = append(eps, it.Endpoint)
			k = len(eps)
			index[it.Endpoint] = k
			keys = append(keys, e.n.webhookQueue(it.Endpoint), e.n.webhookSeq(it.Endpoint))
		}
		args = append(args, strconv.Itoa(k), string(it.Body))
	}
	if len(eps) == 0 {
		return map[string]int{}, nil
	}
	counts, err := webhookPushScript.Exec(ctx, e.client, keys, args).AsIntSlice()
	if err != nil {
		return nil, fmt.Errorf("redis: webhook push: %w", err)
	}
	dropped := map[string]int{}
	for i, n := range counts {
		if n > 0 && i < len(eps) {
			dropped[eps[i]] = int(n)
		}
	}
	return dropped, nil
}

// WebhookPeek returns up to n of the oldest items.
func (e *Engine) WebhookPeek(ctx context.Context, endpoint string, n int) ([]engine.WebhookItem, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	if n <= 0 {
		return nil, nil
	}
	vals, err := e.client.Do(ctx, e.client.B().Lrange().Key(e.n.webhookQueue(endpoint)).Start(0).Stop(int64(n-1)).Build()).AsStrSlice()
	if err != nil {
		return nil, fmt.Errorf("redis: webhook peek: %w", err)
	}
	items := make([]engine.WebhookItem, 0, len(vals))
	for _, v := range vals {
		idText, body, ok := strings.Cut(v, ":")
		id, perr := strconv.ParseUint(idText, 10, 64)
		if !ok || perr != nil {
			return nil, fmt.Errorf("redis: webhook peek: malformed entry")
		}
		item := engine.WebhookItem{ID: id, Body: []byte(body)}
		if strings.HasPrefix(body, "\x00") { // queued by PublishQueued
			if len(body) < 2 {
				return nil, fmt.Errorf("redis: webhook peek: malformed entry")
			}
			ev := &pb.Event{}
			if err := proto.Unmarshal([]byte(body[2:]), ev); err != nil {
				return nil, fmt.Errorf("redis: webhook peek: %w", err)
			}
			item = engine.WebhookItem{ID: id, Event: ev, Full: body[1] == '1'}
		}
		items = append(items, item)
	}
	return items, nil
}

// WebhookAck removes the items up to and including id.
func (e *Engine) WebhookAck(ctx context.Context, endpoint string, id uint64) error {
	if err := e.check(); err != nil {
		return err
	}
	err := webhookAckScript.Exec(ctx, e.client, []string{e.n.webhookQueue(endpoint)}, []string{strconv.FormatUint(id, 10)}).Error()
	if err != nil {
		return fmt.Errorf("redis: webhook ack: %w", err)
	}
	return nil
}

// WebhookLen counts the endpoint's waiting items.
func (e *Engine) WebhookLen(ctx context.Context, endpoint string) (int, error) {
	if err := e.check(); err != nil {
		return 0, err
	}
	n, err := e.client.Do(ctx, e.client.B().Llen().Key(e.n.webhookQueue(endpoint)).Build()).AsInt64()
	if err != nil {
		return 0, fmt.Errorf("redis: webhook len: %w", err)
	}
	return int(n), nil
}

// WebhookLease takes or renews the delivery lease.
func (e *Engine) WebhookLease(ctx context.Context, endpoint, owner string, ttl time.Duration) (bool, error) {
	if err := e.check(); err != nil {
		return false, err
	}
	n, err := webhookLeaseScript.Exec(ctx, e.client, []string{e.n.webhookLease(endpoint)},
		[]string{owner, strconv.FormatInt(max(ttl.Milliseconds(), 1), 10)}).AsInt64()
	if err != nil {
		return false, fmt.Errorf("redis: webhook lease: %w", err)
	}
	return n == 1, nil
}

// WebhookRelease gives the lease up when owner holds it.
func (e *Engine) WebhookRelease(ctx context.Context, endpoint, owner string) error {
	if err := e.check(); err != nil {
		return err
	}
	if err := webhookReleaseScript.Exec(ctx, e.client, []string{e.n.webhookLease(endpoint)}, []string{owner}).Error(); err != nil {
		return fmt.Errorf("redis: webhook release: %w", err)
	}
	return nil
}

// WebhookRemove drops the endpoint's queue and lease (the counter stays, so
// that ids never repeat).
func (e *Engine) WebhookRemove(ctx context.Context, endpoint string) error {
	if err := e.check(); err != nil {
		return err
	}
	cmd := e.client.B().Del().Key(e.n.webhookQueue(endpoint), e.n.webhookLease(endpoint)).Build()
	if err := e.client.Do(ctx, cmd).Error(); err != nil {
		return fmt.Errorf("redis: webhook remove: %w", err)
	}
	return nil
}

var _ engine.Webhooks = (*Engine)(nil)

// The webhook options every node applies, and the channel that tells the
// nodes they changed.
func (n names) webhookOptions() string        { return n.prefix + ":wh:options" }
func (n names) webhookOptionsChanged() string { return n.prefix + ":wh:options:changed" }

// KEYS[1]: options, KEYS[2]: channel. ARGV[1]: options. Stores and tells
// every node in one step.
var webhookOptionsStoreScript = rueidis.NewLuaScript(`
redis.call('SET', KEYS[1], ARGV[1])
redis.call('PUBLISH', KEYS[2], '1')
return 0
`)

// WebhookOptionsLoad returns the stored options, nil when none were stored.
func (e *Engine) WebhookOptionsLoad(ctx context.Context) ([]byte, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	b, err := e.client.Do(ctx, e.client.B().Get().Key(e.n.webhookOptions()).Build()).AsBytes()
	if rueidis.IsRedisNil(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("redis: webhook options: %w", err)
	}
	return b, nil
}

// WebhookOptionsStore stores the options and tells every node.
func (e *Engine) WebhookOptionsStore(ctx context.Context, opts []byte) error {
	if err := e.check(); err != nil {
		return err
	}
	err := webhookOptionsStoreScript.Exec(ctx, e.client, []string{e.n.webhookOptions(), e.n.webhookOptionsChanged()}, []string{string(opts)}).Error()
	if err != nil {
		return fmt.Errorf("redis: store webhook options: %w", err)
	}
	return nil
}

// WebhookOptionsWatch listens on the options channel on a connection of
// its own; changed is called for every message and each time the
// subscription is (re)established, since changes may have been missed
// while it was not.
func (e *Engine) WebhookOptionsWatch(ctx context.Context, changed func()) {
	kick := make(chan struct{}, 1)
	notify := func() {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-kick:
				changed()
			}
		}
	}()
	for ctx.Err() == nil && e.check() == nil {
		c, release := e.client.Dedicate()
		lost := c.SetPubSubHooks(rueidis.PubSubHooks{
			OnMessage:      func(rueidis.PubSubMessage) { notify() },
			OnSubscription: func(s rueidis.PubSubSubscription) { notify() },
		})
		if err := c.Do(ctx, c.B().Subscribe().Channel(e.n.webhookOptionsChanged()).Build()).Error(); err == nil {
			select {
			case <-ctx.Done():
			case <-lost:
			}
		}
		release()
		t := time.NewTimer(time.Second)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
}
