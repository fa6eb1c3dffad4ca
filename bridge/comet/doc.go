// Package comet is the Comet Server (backup) face: the live event websocket
// `GET /api/v1/events/stream` and the admin API under `/api/v1/admin/...`
// with Comet's form parameters, so that code written against Comet's SDKs
// works. The wire facts it matches are in docs/protocols/comet-backup.md;
// section numbers below refer to it.
//
// One event stream, end to end:
//
//	handler.go    routing under /api/v1/ (unknown paths answer Comet's
//	              CometAPIResponseMessage 404), the upgrade, allowList (§1)
//	conn.go       the five login frames (§2.3), AdminService.Authenticate,
//	              then AdminService.StreamEvents, one frame per event
//	parse.go      login frames, form fields, allowList → typed values or a
//	              typed parse error; never panics
//	commands.go   the admin endpoints and what each one needs
//	translate.go  parsed credentials → AdminCredentials
//	encode.go     StreamableEvent frames (internal/streamable), the "200 OK" /
//	              "403 Unauth" frames, CometAPIResponseMessage bodies
//	errors.go     the one gRPC code → Comet answer table (449 for TOTP, §2.1)
//
// Administrators are checked by the core's AdminService only; the face
// holds no passwords. Each stream is one upstream StreamEvents call (event
// streams are few, and each needs its own HELLO and allow-list); its frames
// go through wsconn's bounded queue, and a stream that falls behind is
// closed as a slow consumer (switchboard_bridge_slow_consumers_total
// {face="comet"}), as Comet drops it (§4); the client reconnects.
//
// The face must not import services/ (it is a client of the contract only).
package comet
