// Package wsconn accepts websockets for the protocol faces and gives each one
// a bounded outbound queue, so that fan-out never waits for a socket.
//
// Design notes (DESIGN.md, principle 3 "Fan-out is the hot path"):
//
//   - Send never blocks. Frames are queued by reference: one encoded frame is
//     shared by every socket that receives it, so callers must never modify a
//     frame after sending it.
//   - No goroutine is parked per idle socket on the write side. A writer
//     goroutine is started when a socket's queue goes from empty to non-empty
//     and exits when the queue is drained. An idle connection therefore costs
//     the websocket state, its read goroutine (owned by the face) and a few
//     hundred bytes here.
//   - A socket whose queue overflows (QueueSize frames, or QueueBytes bytes)
//     is a slow consumer: it is closed with StatusPolicyViolation and the
//     reason ReasonSlowConsumer, and switchboard_bridge_slow_consumers_total
//     counts it. Other sockets are never held back by it.
//   - Every frame write has a deadline (WriteTimeout); a socket that cannot
//     take a frame in time is dropped.
//
// Accept applies the one origin rule of every face (origin.go): no Origin
// header, this server's host, or allowed_origins; a face may only narrow it.
//
// Closing is asynchronous: Close, CloseAfterFlush and CloseNow return at once
// and Done (or Context) reports when the connection has ended. The face keeps
// calling Read until it fails; Read is what notices a peer going away and
// what answers pings and close frames.
//
// This package knows nothing about any face's wire format or about the core:
// it never imports gen/ clients or services/.
package wsconn
