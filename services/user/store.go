package user

import (
	"context"
	"time"
)

// Store keeps per-user records, scoped by tenant. Implementations are safe
// for concurrent use; every method is atomic on its own.
type Store interface {
	// SetAuthHash replaces the user's auth hash; an empty hash deletes it.
	SetAuthHash(ctx context.Context, tenant, user, hash string) error
	// AuthHash returns the user's auth hash, or "" when none is stored.
	AuthHash(ctx context.Context, tenant, user string) (string, error)
	// AddAuthHash stores hash only when the user has none, and returns the
	// hash stored afterwards (the existing one or hash). Two concurrent
	// calls agree on the result.
	AddAuthHash(ctx context.Context, tenant, user, hash string) (string, error)
	// SetUserData replaces the user's data string; empty deletes it.
	SetUserData(ctx context.Context, tenant, user, data string) error
	// UserData returns the user's data string, or "" when none is stored.
	UserData(ctx context.Context, tenant, user string) (string, error)
	// SetLastSeen records t as the time the user was last seen online,
	// unless a later time is already stored (so calls from several nodes
	// arriving out of order never move it back).
	SetLastSeen(ctx context.Context, tenant, user string, t time.Time) error
	// LastSeen returns when the user was last seen; ok is false when never.
	LastSeen(ctx context.Context, tenant, user string) (t time.Time, ok bool, err error)
}

// SessionCounter counts a user's connected sessions cluster-wide. The
// engine's Users implementation satisfies it.
type SessionCounter interface {
	UserSessions(ctx context.Context, tenant, user string) (int, error)
}
