// Package centrifugo is the Centrifugo v1 server API face: the HTTP endpoint
// POST /api/ and the Redis API queue (wire notes: docs/protocols/
// centrifugo-v1.md, the v1 "Server API" chapter).
//
// One request carries one command {method, params, uid?} or an array of
// them, signed with X-API-Sign = lowercase hex HMAC-SHA256(api_secret, body)
// (or the older form fields data + sign), unless api_insecure is set. The
// answer is always a JSON array with one {uid?, method, error, advice?, body}
// per command, in order. Structural failures are plain HTTP statuses.
//
// Files, in the order a request passes them:
//
//	handler.go     HTTP entry: body and sign extraction, sign check, statuses
//	parse.go       bytes → typed commands or a *ParseError; never panics
//	fastparse.go   parse.go's fast path for plain bodies, held to the same
//	               answer as encoding/json by a differential fuzz target
//	commands.go    Execute / ExecuteAll: the one place commands run, shared
//	               by the HTTP handler and the Redis queue consumer; a run of
//	               publish commands is one PublishBatch call
//	translate.go   params → HubService requests (Centrifugo mapping table)
//	encode.go      replies and bodies as v1 JSON, key order and data bytes kept
//	errors.go      the one table: gRPC status code → v1 error string + advice
//	redisqueue.go  BLPOP consumer of <prefix>.api and <prefix>.api.N
//
// What it must not do: reach into services/ (it is a HubService client and
// nothing more), invent answers the core did not give (counters the contract
// lacks are left out, not zeroed), or show a client the text of an internal
// error. Namespaces, the # user boundary, channel length and history or
// presence being off are decided by the core; this face only maps the
// status codes it answers with.
//
// Deliberate differences from v1, each invisible to a client that follows
// the docs: a batch is decoded completely before any command runs, so a 400
// has no side effects (v1 ran the commands before the bad one); bodies are
// limited (Options.MaxBodyBytes, 413 beyond it); stats and node carry both
// the v1.6+ "metrics" map and the flat pre-1.6 keys the v1 documentation shows.
package centrifugo
