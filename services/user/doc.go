// Package user implements switchboard.v1.UserService: what the hub keeps
// about a user beyond its sessions — the auth hash a backend sets for
// comet-server logins (CppComet's `users_auth` table, see
// docs/protocols/cppcomet.md §2), a free-form user data string
// (`users_data`, read by the comet `user_data` command, §3.3) and when the
// user was last seen online (`user_status`, §3.3).
//
// The records are kept by the engine (engine.UserRecords): in this process
// with the memory engine, in Redis with the Redis engine, so that every
// node sees the same ones. This package holds the rules (validation,
// limits, constant-time checks, issuing hashes) and no storage of its own.
//
// Whether a user is online is not stored here: it comes from the core's
// knowledge of sessions (SessionCounter, satisfied by the engine's Users),
// so it is right cluster-wide and on every face.
//
// The package must not import bridge/...; faces reach it only through the
// generated UserService client.
package user
