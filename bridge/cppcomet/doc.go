// Package cppcomet is the comet-server (CppComet) face: the newline-text
// websocket that existing CometServerApi.js pages speak, served on
// `/ws/<params>` and `/comet-server/ws/<params>`. The wire facts it matches
// are in docs/protocols/cppcomet.md; section numbers below refer to it.
//
// One connection, end to end:
//
//	handler.go    upgrade, positional URL (url.go, §2), Origin allow-list, auth (auth.go)
//	conn.go       the connection becomes a core session (SessionService.Connect
//	              through the process's control router, asking for the offline
//	              queue); serverInfo first (§3.2), queued `msg` events, then
//	              the read loop
//	parse.go      one frame → one typed command or a typed protocol error (§3.3)
//	commands.go   command → HubService / SessionService / UserService calls, reply
//	translate.go  pure mapping: pipe → filters (user_status_ and track_ pipes
//	              also show the core's lifecycle events, sys:users and
//	              sys:subscriptions, decided once for the cluster), web_pipe2 → Event
//	encode.go     event or reply → one JSON frame, keys in alphabetical order (§3.1),
//	              in the client generation the `v` parameter names (Generation)
//	errors.go     protocol error texts (§3.4) and the gRPC code → error table
//
// Subscriptions use the shared fan-out: one upstream stream per (tenant,
// pipe, client generation) for the whole process, each event encoded once
// and the same frame queued on every socket (sender exclusion happens per
// socket in the sink). Presence for pipe_count and track_pipe_users goes
// through SessionService.Join/Leave; the core announces those joins and
// leaves, and users coming online and going offline, on its sys: channels,
// which the face never decides itself.
//
// The face must not import services/ (it is a client of the contract only),
// must never let client input crash or stall the process, and must never
// block the fan-out: every write goes through wsconn's bounded queue.
package cppcomet
