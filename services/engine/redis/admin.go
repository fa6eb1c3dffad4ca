package redis

import (
	"context"
	"encoding/json"

	"fmt"
	"time"

	"github.com/redis/rueidis"

	"github.com/switchboard-hub/switchboard/services/engine"
)

// Administrators' session keys are plain string keys that Redis expires
// itself (PXAT the session's expiry); used TOTP codes are SET NX keys that
// live as long as a code could still be accepted.

// adminSessionKey is where the session stored under id lives.
func (n names) adminSession(id string) string { return n.prefix + ":admin:sess:" + id }

// adminCode is the marker of a used TOTP code.
func (n names) adminCode(username, code string) string {
	return n.prefix + ":admin:totp:" + lp(username) + code
}

// storedAdminSession is the JSON value of a session key.
type storedAdminSession struct {
	Username string `json:"u"`
	Created  int64  `json:"c"` // unix ms
	Expires  int64  `json:"x"` // unix ms
}

// PutAdminSession implements engine.AdminSessions.
func (e *Engine) PutAdminSession(ctx context.Context, id string, s engine.AdminSession) error {
	if err := e.check(); err != nil {
		return err
	}
	if !s.Expires.After(time.Now()) {
		return nil // already expired: nothing to keep
	}
	v, err := json.Marshal(storedAdminSession{Username: s.Username, Created: s.Created.UnixMilli(), Expires: s.Expires.UnixMilli()})
	if err != nil {
		return err
	}
	cmd := e.client.B().Set().Key(e.n.adminSession(id)).Value(string(v)).Pxat(s.Expires).Build()
	if err := e.client.Do(ctx, cmd).Error(); err != nil {
		return fmt.Errorf("redis: put admin session: %w", err)
	}
	return nil
}

// AdminSession implements engine.AdminSessions.
func (e *Engine) AdminSession(ctx context.Context, id string) (engine.AdminSession, bool, error) {
	if err := e.check(); err != nil {
		return engine.AdminSession{}, false, err
	}
	b, err := e.client.Do(ctx, e.client.B().Get().Key(e.n.adminSession(id)).Build()).AsBytes()
	if rueidis.IsRedisNil(err) {
		return engine.AdminSession{}, false, nil
	}
	if err != nil {
		return engine.AdminSession{}, false, fmt.Errorf("redis: get admin session: %w", err)
	}
	var st storedAdminSession
	if err := json.Unmarshal(b, &st); err != nil {
		return engine.AdminSession{}, false, fmt.Errorf("redis: admin session: %w", err)
	}
	s := engine.AdminSession{Username: st.Username, Created: time.UnixMilli(st.Created), Expires: time.UnixMilli(st.Expires)}
	if !time.Now().Before(s.Expires) {
		return engine.AdminSession{}, false, nil
	}
	return s, true, nil
}

// DeleteAdminSession implements engine.AdminSessions.
func (e *Engine) DeleteAdminSession(ctx context.Context, id string) (bool, error) {
	if err := e.check(); err != nil {
		return false, err
	}
	n, err := e.client.Do(ctx, e.client.B().Del().Key(e.n.adminSession(id)).Build()).AsInt64()
	if err != nil {
		return false, fmt.Errorf("redis: delete admin session: %w", err)
	}
	return n > 0, nil
}

// UseTOTPCode implements engine.AdminSessions.
func (e *Engine) UseTOTPCode(ctx context.Context, username, code string, ttl time.Duration) (bool, error) {
	if err := e.check(); err != nil {
		return false, err
	}
	if ttl < time.Millisecond {
		ttl = time.Millisecond
	}
	cmd := e.client.B().Set().Key(e.n.adminCode(username, code)).Value("1").Nx().Px(ttl).Build()
	err := e.client.Do(ctx, cmd).Error()
	if rueidis.IsRedisNil(err) {
		return false, nil // SET NX did not set: used before
	}
	if err != nil {
		return false, fmt.Errorf("redis: use totp code: %w", err)
	}
	return true, nil
}

var _ engine.AdminSessions = (*Engine)(nil)
