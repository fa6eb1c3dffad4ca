// Package engine is the contract between the hub and its storage and
// fan-out backend. The memory engine (default) serves one node; the Redis
// engine lets several nodes share fan-out, history, presence, user
// sessions, queues and records, node stats and administrators' session
// keys. Both run the same behaviour suite (package enginetest), so every
// guarantee written here holds for either; a new engine is done when it
// passes that suite.
//
// What an engine guarantees:
//
//   - Broker: Publish gives an event the next offset of its channel and the
//     channel's epoch, atomically per channel, keeps it in history when
//     asked, and delivers it to every subscribed node at most once. Events
//     of one channel reach a node in offset order. History answers by
//     position and says when a position is gone (ErrPositionGone).
//   - Handler: what a node receives (events, control orders) is handed to
//     the one Handler given to Run, never concurrently for one channel. A
//     handler must not block and must not call back into the engine.
//   - Presence, Users, Nodes: cluster-wide sets kept with per-entry expiry,
//     so the entries of a node that dies vanish on their own; counts are
//     kept as they change, never by loading a whole set.
//   - UserRecords: per-user records (auth hash, data, last seen) that live
//     like rows of a table; no service keeps records beside the engine.
//   - Close ends every goroutine the engine started; every call after it
//     returns ErrClosed. The process closes the engine last, once the hub
//     and the faces have stopped calling it.
//
// The package speaks only in the contract's messages (gen/switchboard/v1)
// and never imports the hub, the gRPC services or a face (a test in
// cmd/switchboard checks it).
package engine
