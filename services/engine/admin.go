package engine

import (
	"context"
	"time"
)

// AdminSession is what an administrator's session key stands for.
type AdminSession struct {
	Username string
	Created  time.Time
	Expires  time.Time
}

// AdminSessions keeps administrators' session keys and the TOTP codes
// already used, cluster-wide, so that a key issued on one node is accepted
// on every node and a code accepted once is refused everywhere afterwards.
//
// Callers store a digest of the session key as id, never the key itself.
type AdminSessions interface {
	// PutAdminSession stores s under id until s.Expires, replacing any
	// session stored under id.
	PutAdminSession(ctx context.Context, id string, s AdminSession) error
	// AdminSession returns the session stored under id; ok is false when
	// there is none or it has expired.
	AdminSession(ctx context.Context, id string) (s AdminSession, ok bool, err error)
	// DeleteAdminSession removes the session stored under id and reports
	// whether a live one was there.
	DeleteAdminSession(ctx context.Context, id string) (bool, error)
	// UseTOTPCode records that code was used for username. It returns true
	// for the first use within ttl and false for every later one; of two
	// concurrent calls exactly one gets true.
	UseTOTPCode(ctx context.Context, username, code string, ttl time.Duration) (bool, error)
}
