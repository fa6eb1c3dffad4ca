// Package memory is the default, single-node engine: history, fan-out,
// presence, user queues, user records and node stats live in this process and vanish with
// it.
//
// Fan-out is synchronous: Publish assigns the offset and hands the event to
// the Run handler while holding the channel's lock, so one channel's events
// reach the handler in offset order and never concurrently. Channels are
// spread over shards so publishes on different channels do not contend.
//
// Memory stays bounded: a channel keeps at most HistoryOptions.Size events,
// each dropped after HistoryOptions.TTL (trimmed lazily on every read and
// write), and a periodic sweep removes channels whose events have all expired
// once their offset and epoch are no longer needed (Options.MetaTTL). Offline
// user queues expire after Options.QueueTTL.
//
// Every channel stream gets a fresh random epoch when it is created, so a
// restart (or a swept channel) never lets an old offset pass for a new one.
//
// The package must not do network I/O or start goroutines other than its
// sweeper; it has no notion of other nodes.
package memory
