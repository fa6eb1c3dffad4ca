package engine

import (
	"context"
	"time"
)

// UserRecords keeps what the core knows about a user beyond its sessions:
// the auth hash a backend sets for comet-server logins, a free-form user
// data string and when the user was last seen online. Records are scoped
// by tenant and kept like rows of a table: they are not expired. Every
// node of a cluster sees the same records (the Redis engine keeps them in
// Redis; the memory engine serves one node).
//
// Every method is atomic on its own and safe for concurrent use.
type UserRecords interface {
	// SetAuthHash replaces the user's auth hash; an empty hash deletes it.
	SetAuthHash(ctx context.Context, tenant, user, hash string) error
	// AuthHash returns the user's auth hash, or "" when none is stored.
	AuthHash(ctx context.Context, tenant, user string) (string, error)
	// AddAuthHash stores hash only when the user has none, and returns the
	// hash stored afterwards (the existing one or hash). Concurrent calls,
	// from any node, agree on the result. An empty hash is an error.
	AddAuthHash(ctx context.Context, tenant, user, hash string) (string, error)
	// SetUserData replaces the user's data string; empty deletes it.
	SetUserData(ctx context.Context, tenant, user, data string) error
	// UserData returns the user's data string, or "" when none is stored.
	UserData(ctx context.Context, tenant, user string) (string, error)
	// SetLastSeen records t (to the millisecond) as the time the user was
	// last seen online, unless a later time is already stored: calls from
	// several nodes arriving out of order never move it back.
	SetLastSeen(ctx context.Context, tenant, user string, t time.Time) error
	// LastSeen returns when the user was last seen; ok is false when never.
	LastSeen(ctx context.Context, tenant, user string) (t time.Time, ok bool, err error)
}
