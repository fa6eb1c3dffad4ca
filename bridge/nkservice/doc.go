// Package nkservice is the NkSERVICE (NetComposer) External API face: JSON
// requests and replies over a websocket, one JSON object per text frame
// (shared/protocols/nkservice.md; the commands of doc/api_commands.md).
//
// Either side sends requests and the other answers each one. The client logs
// in with core/user/login (an admin account of the config, or a client token
// checked by internal/token), then uses the twelve core commands. Events
// reach the client as server requests (class core, cmd event) carrying the
// server's own tid; a request the client leaves unanswered past the
// deadline, counted from when its frame was written, closes the connection
// (§3.1). Optional server pings (§3.4) and the idle timeout (§1) are in
// deadlines.go.
//
//	parse.go      frame → typed request, reply or ack; bounded, never panics
//	commands.go   one function per command: RPCs into the core
//	translate.go  NkSERVICE class/subclass/type/obj_id ↔ canonical Event and Filter
//	encode.go     replies, errors, server requests, event frames
//	errors.go     the one table gRPC status → NkSERVICE code and text
//	conn.go       one socket: read loop, server requests, delivery
//	deadlines.go  server tids and their answer deadlines, pings, idle timeout
//	auth.go       login checks (admins, client tokens)
//	handler.go    HTTP upgrade and wiring
//
// Every socket is a core session (SessionService via bridge/control):
// presence, Disconnect, Unsubscribe, directed events and relayed commands
// reach it on any node. Sockets with the same explicit subscriptions share
// one upstream stream (bridge/fanout); each event's data object is encoded
// once per group, and each socket wraps it in its own request envelope.
//
// This package is a client of the gRPC contract only; it never imports
// services/.
package nkservice
