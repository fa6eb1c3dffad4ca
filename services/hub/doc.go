// Package hub implements the gRPC HubService and SessionService on top of an
// engine.Engine.
//
// The data path: Publish validates the event and resolves its channel's
// options (namespaces), the engine assigns offset+epoch, stores history and
// fans the event out to every node; each node's dispatcher (dispatch.go)
// matches it against the local subscription index and puts it on each
// matching stream's bounded queue. A stream whose queue is full is ended
// with RESOURCE_EXHAUSTED "slow consumer"; nothing here ever blocks the
// publisher on a subscriber. The one exception is a bridge's multiplexed
// stream (mux.go), which carries the subscriptions of many sockets: when
// its queue is full, publishing waits for the bridge (for a while, then
// the stream is cut), since the bridge never waits on a socket.
//
// Sessions: every opened and closed session, every join and leave, and a
// user's first and last session in the cluster are announced as lifecycle
// events on the reserved sys: channels (lifecycle.go). Nothing the engine
// delivers is answered with an engine call on its delivery path: the work
// a control order causes is done by the hub's workers (work.go).
//
// Domain errors become status codes in one place (errors.go).
package hub
