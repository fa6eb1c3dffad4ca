package memory

import (
	"context"
	"errors"
	"sync"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/services/engine"
)

var errNoUserSession = errors.New("memory: session without id")

// users keeps each user's connected sessions and offline queue. A user
// with neither is forgotten.
type users struct {
	mu sync.Mutex
	m  map[key]*user // key{tenant, user id}
}

type user struct {
	sessions map[string]struct{}
	queue    []*pb.Event // oldest first
	queuedAt int64       // engine clock of the last Enqueue
}

func (u *users) init() { u.m = map[key]*user{} }

// get returns the user's state, creating it if asked. Callers hold u.mu.
func (u *users) get(k key, create bool) *user {
	x := u.m[k]
	if x == nil && create {
		x = &user{sessions: map[string]struct{}{}}
		u.m[k] = x
	}
	return x
}

// forgetIfEmpty drops a user with no sessions and no queue. Callers hold u.mu.
func (u *users) forgetIfEmpty(k key, x *user) {
	if len(x.sessions) == 0 && len(x.queue) == 0 {
		delete(u.m, k)
	}
}

// AddSession records a connected session of s.User; first when the user
// had no other session.
func (e *Engine) AddSession(ctx context.Context, s *pb.Session) (bool, error) {
	if err := e.check(); err != nil {
		return false, err
	}
	if s.GetId() == "" {
		return false, errNoUserSession
	}
	e.users.mu.Lock()
	defer e.users.mu.Unlock()
	x := e.users.get(key{s.Tenant, s.User}, true)
	if _, ok := x.sessions[s.Id]; ok {
		return false, nil
	}
	x.sessions[s.Id] = struct{}{}
	return len(x.sessions) == 1, nil
}

// RemoveSession forgets a session; an unknown one is not an error. It is
// last when it was the user's only session.
func (e *Engine) RemoveSession(ctx context.Context, s *pb.Session) (bool, error) {
	if err := e.check(); err != nil {
		return false, err
	}
	if s == nil {
		return false, nil
	}
	k := key{s.Tenant, s.User}
	e.users.mu.Lock()
	defer e.users.mu.Unlock()
	x := e.users.get(k, false)
	if x == nil {
		return false, nil
	}
	if _, ok := x.sessions[s.Id]; !ok {
		return false, nil
	}
	delete(x.sessions, s.Id)
	last := len(x.sessions) == 0
	e.users.forgetIfEmpty(k, x)
	return last, nil
}

// UserSessions counts the user's connected sessions.
func (e *Engine) UserSessions(ctx context.Context, tenant, userID string) (int, error) {
	if err := e.check(); err != nil {
		return 0, err
	}
	e.users.mu.Lock()
	defer e.users.mu.Unlock()
	if x := e.users.get(key{tenant, userID}, false); x != nil {
		return len(x.sessions), nil
	}
	return 0, nil
}

// Enqueue appends a copy of ev to the user's queue, keeping the newest max
// events. A max of zero or less keeps nothing. The queue is dropped
// Options.QueueTTL after the last Enqueue unless drained before.
func (e *Engine) Enqueue(ctx context.Context, tenant, userID string, ev *pb.Event, max int) error {
	if err := e.check(); err != nil {
		return err
	}
	if ev == nil {
		return errNilEvent
	}
	if max <= 0 {
		return nil
	}
	c := engine.CloneEvent(ev)
	now := e.now()
	e.users.mu.Lock()
	defer e.users.mu.Unlock()
	x := e.users.get(key{tenant, userID}, true)
	if n := len(x.queue); n >= max {
		// Shift in place: the queue is bounded by max, and reusing the
		// array keeps a busy queue from reallocating.
		drop := n - max + 1
		copy(x.queue, x.queue[drop:])
		clear(x.queue[n-drop:])
		x.queue = x.queue[:n-drop]
	}
	x.queue = append(x.queue, c)
	x.queuedAt = now
	return nil
}

// Drain returns the user's queued events, oldest first, and empties the
// queue.
func (e *Engine) Drain(ctx context.Context, tenant, userID string) ([]*pb.Event, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	k := key{tenant, userID}
	e.users.mu.Lock()
	defer e.users.mu.Unlock()
	x := e.users.get(k, false)
	if x == nil {
		return nil, nil
	}
	q := x.queue
	x.queue = nil
	e.users.forgetIfEmpty(k, x)
	return q, nil
}

// sweep drops queues not added to for ttl.
func (u *users) sweep(now, ttl int64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for k, x := range u.m {
		if len(x.queue) > 0 && now-x.queuedAt >= ttl {
			x.queue = nil
			u.forgetIfEmpty(k, x)
		}
	}
}
