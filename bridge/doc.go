// Package bridge holds the hand-written protocol faces and the pieces they
// share. A face is a client of the gRPC services in gen/ and nothing more: it
// never imports services/. In one process the clients reach the core over an
// in-memory gRPC connection; as an edge process (`serve --upstream`) the same
// code dials a remote core.
//
// A face never decides who may read a channel: it reads on behalf of its
// sockets (on_behalf_of in the read requests), and on shared streams the
// core's audience of each event is compared with each socket's principal in
// fanout (fanout.Reader, internal/access). The rules are the core's alone.
//
//	fanout/   one upstream Subscribe stream per filter set, encode-once, local fan-out
//	wsconn/   websocket accept + bounded per-socket writer (slow consumers are cut off)
//	control/  one SessionService.Control stream per edge, routed to local sessions
//	gateway/  grpc-gateway REST/JSON mux (a gRPC client like every face)
//	<face>/   one folder per protocol face
package bridge
