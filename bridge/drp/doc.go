// Package drp is the Digital Rebar Provision face: the event websocket
// GET /api/v3/ws, the event POST /api/v3/events and the login calls the DRP
// Go client makes first, GET /api/v3/users/<user>/token and GET
// /api/v3/info (wire notes: docs/protocols/drp.md, "Websocket Access", §9).
// The rest of /api/v3/ answers DRP's 404 error JSON.
//
// A client authenticates before the upgrade (Basic user:password against
// the configured admins, a Bearer HS256 token signed with token_secret, or
// ?token=; failures are DRP's bare 401/403 answers), then sends text frames
// "register type.action.key" and "deregister type.action.key". Each such
// frame is acknowledged with a "websocket" event to that socket only; other
// frames are ignored. Matching events arrive as one models.Event JSON object
// per text frame: Time, Type, Action, Key, Principal, Object, Original.
//
// Files, in the order a frame or an event passes them:
//
//	handler.go    HTTP entry: routes, options, authentication, upgrade
//	auth.go       Basic / Bearer / ?token= (drp.md §2), per-event visibility
//	conn.go       one socket: the read loop, which events it wants, its close
//	commands.go   register/deregister: the filter set, the move to its upstream
//	              group (fanout.Mover), the ack
//	parse.go      frame → Command; filter text → Filter (its Match is the
//	              reference for the matching rules); never panics
//	translate.go  Filter → pb.Filter; a socket's filters → one SubscribeRequest
//	encode.go     event → models.Event JSON, once per event per group; acks
//	events.go     POST /api/v3/events → HubService.Publish
//	api.go        users/<user>/token (token.Mint) and info
//	errors.go     close reasons; gRPC status → DRP models.Error, and the
//	              status decisions (refused by the hub, events lost, unreachable)
//
// Fan-out: every socket's filter set becomes one SubscribeRequest, and
// sockets with equal sets share one upstream stream through bridge/fanout
// (group key fanout.FilterSetKey). On a change (fanout.Mover) the socket joins the new
// group first and leaves the old one only after it has drained (drainTime;
// its events are filtered by the new set meanwhile), so no event is missed,
// not even one in flight on the old stream; the overlap's duplicates are
// dropped by event id. The ack of a frame is sent once the new group is
// live, so an event published after the client saw its ack reaches it. A
// socket without a filter that can match has no upstream stream. When the
// hub refuses an exact set (more filters or values than one subscription
// may hold, a channel in an unknown namespace), the socket shares the
// catch-all stream and filters locally with Filter.Match.
//
// Every socket is a core session (session.go, through bridge/control): it
// is in the presence of the exact Types its filters name, HubService.
// Disconnect of its user closes it, Unsubscribe stops a Type, and directed
// events reach it when its filters match. DRP has no way to show offline
// messages, so the user's queue is left for a face that can.
//
// Deliberate differences from DRP, each named where it is implemented:
// client frames may be up to Options.ReadLimit (default 4096) bytes instead
// of melody's 512; a socket holds at most 1024 filters; a literal "*" list
// alternative ("a,*", "\3") never matches, because the core's Filter cannot
// express the value "*"; presence (join/leave) events are not delivered;
// token users cannot publish (the core lets them only read) and see only
// the channels the core's rules open to them (each event's audience, compared
// in bridge/fanout; the face holds no rule of its own); a socket's
// Subscribe calls are bounded (limits.go); the ack and events carry UTC
// times; for drainTime after a filter change, events of the old and the new
// upstream group may interleave out of publish order. Closes say why, with the constants in errors.go.
//
// What it must not do: reach into services/ (it is a HubService client
// through bridge/fanout and nothing more), open one upstream stream per
// socket, block a fan-out goroutine on a socket, or publish a "websocket"
// event.
package drp
