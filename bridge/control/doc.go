// Package control keeps one SessionService.Control stream per edge process
// and routes its orders to the local sessions that asked for them
// (DESIGN.md principle 5, "Sessions are first-class").
//
// Every face registers its connections through Router.Connect, which calls
// SessionService.Connect with this edge's id. The hub then sends orders for
// those sessions — disconnect, unsubscribe, directed events — on the edge's
// Control stream, and the Router hands each one to the session's Handler.
//
// Ordering: Connect waits until the Control stream is open, so an order the
// hub sends for a session after its Connect call is never lost. The stream
// counts as open when the hub has sent its response headers (the hub's
// Control handler sends them as soon as the edge is registered) or its
// first order. A stream that breaks is reopened with backoff; Connect calls
// made meanwhile wait for it.
//
// The package is a client of the gRPC contract only; it never imports
// services/.
package control
