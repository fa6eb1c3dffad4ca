// Package fanout shares one upstream subscription among every local
// receiver of the same face and filter set, and encodes each event once for
// all of them (DESIGN.md principle 3; STYLE.md "One event, end to
// end", step 6).
//
// A group is identified by (face, key). Its first Subscribe makes it a
// subscription of the process's multiplexed upstream stream
// (HubService.SubscribeMux, mux.go) and waits for the hub's confirmation,
// so an event published after Subscribe returns is never missed. Later
// Subscribes for the same group join it. One goroutine reads the
// multiplexed stream; for each event it finds the groups by the
// subscription ids the event carries, calls each group's Encoder once and
// hands the same frame to every sink of the group; it takes no lock per
// sink and never waits for one (sinks queue the frame, see package
// wsconn). When the last sink of a group leaves, its subscription is
// removed; when the stream fails, or the hub ends a subscription (a gap),
// the sinks concerned are told through UpstreamClosed.
//
// A request with `since`, a session or a principal, and every request when
// the hub has no SubscribeMux (an older core), gets a Subscribe stream of
// its own, read by a goroutine of its group (group.go).
//
// A Mover (move.go) keeps one socket in one group at a time and moves it
// without a gap when the socket's filters change: the new group first, the
// previous one drained, events seen on both delivered once.
//
// Fanout is a client of the gRPC contract only; it never imports services/.
package fanout
