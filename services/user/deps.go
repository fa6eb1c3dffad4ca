package user

import "context"

// SessionCounter counts a user's connected sessions cluster-wide. The
// engine's Users implementation satisfies it.
type SessionCounter interface {
	UserSessions(ctx context.Context, tenant, user string) (int, error)
}
