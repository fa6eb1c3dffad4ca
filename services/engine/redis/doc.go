// Package redis is the engine for several Switchboard nodes sharing one
// Redis server (the role Redis plays for Centrifugo). Every node runs one
// Engine against the same server and key prefix; history, presence, user
// sessions, queues and records, and the node list live in Redis, and events travel
// between nodes over Redis pub/sub.
//
// # Names
//
// Every key and pub/sub channel starts with Options.Prefix ("switchboard").
// A tenant is always written length-prefixed, "<len>:<tenant>", so that no
// tenant/channel pair can be mistaken for another, whatever characters
// either holds ('.', ':', '*', …): ("a.b","c") and ("a","b.c") never meet.
//
//	<p>.ev.<len>:<tenant>.<channel>   pub/sub: the channel's events
//	<p>.control                       pub/sub: control orders for every node
//	<p>:hist:meta:<len>:<tenant><ch>  hash {e: epoch, o: last offset}
//	<p>:hist:list:<len>:<tenant><ch>  list of "<expiry ms>:<event>", oldest first
//	<p>:pres:s:<id>                   hash session id → "<len>:<user><session>"
//	<p>:pres:x:<id>                   sorted set session id → expiry (ms)
//	<p>:pres:u:<id>                   hash user → sessions of that user
//	<p>:pres:chans                    sorted set of channels with presence
//	<p>:user:s:<len>:<tenant><user>   sorted set session id → expiry (ms)
//	<p>:user:q:<len>:<tenant><user>   list of queued events
//	<p>:user:r:<len>:<tenant><user>   hash {hash, data, seen}: the user's records
//	<p>:nodes, <p>:nodes:x            hash node id → info; sorted set id → expiry
//	<p>:wh:q:<len>:<endpoint>         list of "<id>:<body>" or "<id>:\x00<full><event>" webhook items
//	<p>:wh:seq:<len>:<endpoint>       counter numbering the endpoint's items
//	<p>:wh:lease:<len>:<endpoint>     node delivering to the endpoint (expires)
//	<p>:wh:options, <p>:wh:options:changed  webhook options; pub/sub: they changed
//
// Events, sessions and node info are stored protobuf-encoded.
//
// # Publish and history
//
// Publish is one Lua script: it creates the channel's epoch if the meta
// hash has none (deleting any list left from an older epoch), increments
// the offset, appends the event to the list, trims it to the history size
// (LTRIM, exact) and drops expired entries from its old end, sets the
// list's TTL to the history TTL (sliding: the list dies with its newest
// event) and the meta's TTL to at least max(history TTL, Options.MetaTTL),
// then PUBLISHes the event. The script runs atomically, so offsets are
// gap-free per channel and every node sees a channel's events in offset
// order. The offset and epoch are appended to the Go-encoded event as
// protobuf fields 14 and 15 inside the script (a decoder keeps the last
// value of a field), so the event is encoded once. PublishQueued runs the
// same script with webhook queues as extra keys and appends the event as
// published to each of them too: the publish and the webhook queueing are
// one atomic step and one round trip.
//
// The list always holds the consecutive offsets top-len+1 … top, so History
// (another script) finds any offset by arithmetic and returns exactly the
// requested range with LRANGE. When Redis loses the meta (expiry, restart
// without persistence) the next publish or read starts a new epoch and old
// positions get engine.ErrPositionGone. Expiry times come from Redis's own
// clock (TIME), never a node's.
//
// # Fan-out
//
// Each node keeps one dedicated pub/sub connection. Subscribe is a
// reference-counted SUBSCRIBE of the channel's event channel; AllChannels
// is PSUBSCRIBE "<p>.ev.<len>:<tenant>.*" and AllTenants is PSUBSCRIBE
// "<p>.ev.*", with glob characters of the prefix and tenant escaped. The
// first Subscribe of a name returns once Redis confirmed it, so no later
// publish is missed.
//
// A node subscribed both to a channel and to a pattern covering it gets one
// copy per subscription from Redis. It delivers exactly one: the copy of
// the most general subscription that was live when Redis sent it. The set
// of live subscriptions is tracked from Redis's own confirmations, which
// arrive on the connection in order with the messages, so the choice is
// exact even while subscriptions change.
//
// Messages are handed to the Run handler on the connection's reader
// goroutine, one at a time, in the order Redis sent them. When the
// connection breaks, Healthy reports it, Publish, PublishControl and
// Subscribe of a new name fail with engine.ErrUnavailable, and a background
// loop reconnects with backoff and subscribes every wanted name again. Then it recovers
// what each channel subscribed by name missed from history, from the last
// offset the node delivered (same epoch), delivers it before the events
// that arrived meanwhile, and reports what it cannot recover as an
// engine.Gap (see recover.go) before the node is healthy again.
//
// # Presence and users
//
// A channel's presence is a hash of sessions, a hash of user reference
// counts and a sorted set of expiry times, changed only by scripts that keep
// the counts in step, so PresenceStats is two HLENs and never a scan.
// Entries carry their own expiry (Options.PresenceTTL): the node that added
// an entry re-adds it three times per TTL, and every script that touches a
// channel first drops the entries whose node stopped refreshing them (it
// died). Channels walks the <p>:pres:chans index, whose members are
// "<escaped tenant>\x00<channel>" scored 0, so ZRANGEBYLEX yields them in
// tenant-then-channel order and a tenant/prefix is a lexicographic range.
// User sessions are a sorted set per user with the same per-entry expiry;
// offline queues are lists trimmed with LTRIM and expire Options.QueueTTL
// after the last Enqueue. Nodes expire Options.NodeTTL after their last
// UpdateNode.
//
// The package speaks only to Redis. It must not hold anything a restart of
// this process would need: all shared state is in Redis.
package redis
