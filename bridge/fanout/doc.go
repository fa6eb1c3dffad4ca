// Package fanout shares one upstream HubService.Subscribe stream among every
// local receiver of the same face and filter set, and encodes each event
// once for all of them (DESIGN.md principle 3; STYLE.md "One event, end to
// end", step 6).
//
// A group is identified by (face, key). Its first Subscribe opens the
// upstream stream and waits for the hub's `subscribed` confirmation, so an
// event published after Subscribe returns is never missed. Later Subscribes
// for the same group join that stream. One goroutine per group reads the
// stream, calls the group's Encoder once per event and hands the same frame
// to every sink; it takes no lock per sink and never waits for one (sinks
// queue the frame, see package wsconn). When the last sink leaves, the
// upstream stream is cancelled; when the stream fails, every sink is told
// through UpstreamClosed.
//
// A Mover (move.go) keeps one socket in one group at a time and moves it
// without a gap when the socket's filters change: the new group first, the
// previous one drained, events seen on both delivered once.
//
// Fanout is a client of the gRPC contract only; it never imports services/.
package fanout
