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
//
// Every face folder has the same files, each with one role, so that a
// reader who knows one face finds their way in the next:
//
//	doc.go        what the face is, its wire notes, its deliberate differences
//	handler.go    Options, New, routes, ServeHTTP; Serve/Close: the face's
//	              lifetime (every goroutine it starts ends and is awaited)
//	conn.go       one connection: its core session, read loop, fan-out sinks,
//	              teardown (a face without sockets, centrifugo, has none)
//	parse.go      wire frame or request → typed command, or the face's own
//	              error; no I/O, never panics, fuzzed
//	commands.go   typed command → calls to the core (the RPCs) and the reply
//	translate.go  pure mapping between the face's values and the contract's
//	              messages (Event, Filter, requests); no calls, no state
//	encode.go     event or reply → the face's bytes; a fan-out Encoder runs
//	              once per event, whatever the number of sockets
//	errors.go     the face's error texts and codes, and its one table gRPC
//	              status → face error; no status decision anywhere else
//
// A file beyond these is named for a concern of the face alone (auth.go,
// url.go, session.go, redisqueue.go, ...). Shared upstream streams, and a
// socket's move from one stream to another when its filters change, belong
// to fanout/, not to a face.
package bridge
