package memory

import (
	"context"
	"sync"
	"time"

	"github.com/switchboard-hub/switchboard/services/engine"
)

// adminStore holds administrators' session keys and used TOTP codes. Expired
// entries are dropped when they are looked at and by the sweeper.
type adminStore struct {
	mu       sync.Mutex
	sessions map[string]engine.AdminSession
	codes    map[string]time.Time // username + "\x00" + code → until when it stays used
}

func (a *adminStore) init() {
	a.sessions = map[string]engine.AdminSession{}
	a.codes = map[string]time.Time{}
}

// PutAdminSession implements engine.AdminSessions.
func (e *Engine) PutAdminSession(_ context.Context, id string, s engine.AdminSession) error {
	if err := e.check(); err != nil {
		return err
	}
	e.admin.mu.Lock()
	defer e.admin.mu.Unlock()
	e.admin.sessions[id] = s
	return nil
}

// AdminSession implements engine.AdminSessions.
func (e *Engine) AdminSession(_ context.Context, id string) (engine.AdminSession, bool, error) {
	if err := e.check(); err != nil {
		return engine.AdminSession{}, false, err
	}
	e.admin.mu.Lock()
	defer e.admin.mu.Unlock()
	s, ok := e.admin.sessions[id]
	if ok && !time.Now().Before(s.Expires) {
		delete(e.admin.sessions, id)
		return engine.AdminSession{}, false, nil
	}
	return s, ok, nil
}

// DeleteAdminSession implements engine.AdminSessions.
func (e *Engine) DeleteAdminSession(_ context.Context, id string) (bool, error) {
	if err := e.check(); err != nil {
		return false, err
	}
	e.admin.mu.Lock()
	defer e.admin.mu.Unlock()
	s, ok := e.admin.sessions[id]
	delete(e.admin.sessions, id)
	return ok && time.Now().Before(s.Expires), nil
}

// UseTOTPCode implements engine.AdminSessions.
func (e *Engine) UseTOTPCode(_ context.Context, username, code string, ttl time.Duration) (bool, error) {
	if err := e.check(); err != nil {
		return false, err
	}
	k := username + "\x00" + code
	now := time.Now()
	e.admin.mu.Lock()
	defer e.admin.mu.Unlock()
	if until, ok := e.admin.codes[k]; ok && now.Before(until) {
		return false, nil
	}
	e.admin.codes[k] = now.Add(ttl)
	return true, nil
}

// sweepAdmin drops expired session keys and codes.
func (e *Engine) sweepAdmin(now time.Time) {
	e.admin.mu.Lock()
	defer e.admin.mu.Unlock()
	for id, s := range e.admin.sessions {
		if !now.Before(s.Expires) {
			delete(e.admin.sessions, id)
		}
	}
	for k, until := range e.admin.codes {
		if !now.Before(until) {
			delete(e.admin.codes, k)
		}
	}
}
