package centrifugo

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/rueidis"
)

// Defaults of the Redis API queue (centrifugo-v1.md §3.4).
const (
	DefaultRedisAddress = "127.0.0.1:6379"
	DefaultRedisPrefix  = "centrifugo"
)

// queueSuffix is appended to the prefix to form the list key.
const queueSuffix = ".api"

// blpopTimeoutSeconds bounds one BLPOP so a dead connection is noticed
// without waiting on TCP; an empty answer just loops.
const blpopTimeoutSeconds = 5

// Reconnect backoff after a Redis failure.
const (
	retryMin = 100 * time.Millisecond
	retryMax = 5 * time.Second
)

// QueueKeys lists the lists the consumer pops: <prefix>.api, then
// <prefix>.api.0 … <prefix>.api.N-1. Producers push a channel's commands to
// one shard (e.g. crc16(channel) mod N) to keep their order.
func QueueKeys(prefix string, shards int) []string {
	if prefix == "" {
		prefix = DefaultRedisPrefix
	}
	keys := []string{prefix + queueSuffix}
	for i := range max(shards, 0) {
		keys = append(keys, prefix+queueSuffix+"."+strconv.Itoa(i))
	}
	return keys
}

// queueMethods are the methods the queue acts on; v1 ignores the others
// silently, since a queue item has no reply to carry their result.
var queueMethods = map[string]bool{
	MethodPublish:     true,
	MethodBroadcast:   true,
	MethodUnsubscribe: true,
	MethodDisconnect:  true,
}

// Run consumes the Redis API queue until ctx ends, when Options.RedisAPI is
// set; otherwise it returns nil at once. Items are popped with BLPOP and run
// one at a time through the same executor as the HTTP API, so commands of
// one list run in push order. There is no sign: whoever can push to Redis is
// trusted, as in v1. Redis failures are logged and retried with backoff;
// Run returns nil when ctx ends.
func (h *Handler) Run(ctx context.Context) error {
	if !h.opts.RedisAPI {
		return nil
	}
	addr := h.opts.RedisAddress
	if addr == "" {
		addr = DefaultRedisAddress
	}
	keys := QueueKeys(h.opts.RedisPrefix, h.opts.RedisNumShards)
	log := h.log.With("redis", addr)

	var client rueidis.Client
	for wait := retryMin; ; wait = min(2*wait, retryMax) {
		var err error
		client, err = rueidis.NewClient(rueidis.ClientOption{
			InitAddress:  []string{addr},
			DisableCache: true, // plain commands only; works with any Redis version
		})
		if err == nil {
			break
		}
		log.Warn("redis api queue: cannot connect, retrying", "err", err, "in", wait)
		if !sleepCtx(ctx, wait) {
			return nil
		}
	}
	defer client.Close()
	log.Info("redis api queue: consuming", "keys", keys)

	cmd := client.B().Blpop().Key(keys...).Timeout(blpopTimeoutSeconds).Build().Pin()
	wait := retryMin
	for ctx.Err() == nil {
		kv, err := client.Do(ctx, cmd).AsStrSlice()
		switch {
		case rueidis.IsRedisNil(err):
			continue
		case err != nil:
			if ctx.Err() != nil {
				return nil
			}
			log.Warn("redis api queue: BLPOP failed, retrying", "err", err, "in", wait)
			if !sleepCtx(ctx, wait) {
				return nil
			}
			wait = min(2*wait, retryMax)
			continue
		case len(kv) != 2:
			log.Warn("redis api queue: unexpected BLPOP reply", "len", len(kv))
			continue
		}
		wait = retryMin
		h.runQueueItem(ctx, kv[0], []byte(kv[1]))
	}
	return nil
}

// runQueueItem decodes and runs one list item. Nothing is answered: failures
// are logged, as v1 logged them.
func (h *Handler) runQueueItem(ctx context.Context, key string, item []byte) {
	cmds, err := DecodeQueueItem(bytes.TrimLeft(item, " \t\r\n"))
	if err != nil {
		h.log.Warn("redis api queue: dropped undecodable command", "key", key, "err", err)
	}
	if len(cmds) > 0 {
		countRequest()
	}
	run := cmds[:0]
	for _, cmd := range cmds {
		if !queueMethods[cmd.Method] {
			h.log.Debug("redis api queue: method ignored", "key", key, "method", cmd.Method)
			continue
		}
		run = append(run, cmd)
	}
	for _, r := range h.exec.ExecuteAll(ctx, run, make([]Reply, 0, len(run))) {
		if r.Error != "" {
			h.log.Warn("redis api queue: command failed", "key", key, "method", r.Method,
				"error", fmt.Sprintf("%s (%s)", r.Error, r.Advice))
		}
	}
}

// sleepCtx waits d or until ctx ends; it reports whether ctx is still live.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
