package redis

import (
	"context"
	"errors"
	"strconv"

	"github.com/redis/rueidis"
	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"google.golang.org/protobuf/proto"
)

var errNoUserSession = errors.New("redis: session without id")

// userAdd is the script call that records (or refreshes) a user's session.
func (e *Engine) userAdd(s *pb.Session) rueidis.LuaExec {
	return rueidis.LuaExec{
		Keys: []string{e.n.userSessions(s.Tenant, s.User)},
		Args: []string{s.Id, strconv.FormatInt(ms(e.opts.PresenceTTL), 10)},
	}
}

// AddSession records a connected session; this node refreshes it until
// RemoveSession, and it expires if the node dies. It is first when the
// user had no other live session on any node.
func (e *Engine) AddSession(ctx context.Context, s *pb.Session) (bool, error) {
	if err := e.check(); err != nil {
		return false, err
	}
	if s.GetId() == "" {
		return false, errNoUserSession
	}
	x := e.userAdd(s)
	e.own.hold()
	defer e.own.unhold()
	first, err := userAddScript.Exec(ctx, e.client, x.Keys, x.Args).AsInt64()
	if err != nil {
		return false, failf("redis: add session: %w", err)
	}
	e.own.setSession(sessKey{s.Tenant, s.User, s.Id}, x)
	return first == 1, nil
}

// RemoveSession forgets a session. It is last when no live session of
// the user is left on any node.
func (e *Engine) RemoveSession(ctx context.Context, s *pb.Session) (bool, error) {
	if err := e.check(); err != nil {
		return false, err
	}
	if s == nil {
		return false, nil
	}
	e.own.hold()
	defer e.own.unhold()
	e.own.deleteSession(sessKey{s.Tenant, s.User, s.Id})
	last, err := userRemoveScript.Exec(ctx, e.client, []string{e.n.userSessions(s.Tenant, s.User)}, []string{s.Id}).AsInt64()
	if err != nil {
		return false, failf("redis: remove session: %w", err)
	}
	return last == 1, nil
}

// UserSessions counts the user's live sessions on every node.
func (e *Engine) UserSessions(ctx context.Context, tenant, user string) (int, error) {
	if err := e.check(); err != nil {
		return 0, err
	}
	n, err := userCountScript.Exec(ctx, e.client, []string{e.n.userSessions(tenant, user)}, nil).AsInt64()
	if err != nil {
		return 0, failf("redis: user sessions: %w", err)
	}
	return int(n), nil
}

// Enqueue appends ev to the user's queue, keeping the newest max events; a
// max of zero or less keeps nothing. The queue expires Options.QueueTTL
// after the last Enqueue unless drained before.
func (e *Engine) Enqueue(ctx context.Context, tenant, user string, ev *pb.Event, max int) error {
	if err := e.check(); err != nil {
		return err
	}
	if ev == nil {
		return errNilEvent
	}
	if max <= 0 {
		return nil
	}
	b, err := proto.Marshal(ev)
	if err != nil {
		return failf("redis: encode event: %w", err)
	}
	err = enqueueScript.Exec(ctx, e.client, []string{e.n.userQueue(tenant, user)},
		[]string{string(b), strconv.Itoa(max), strconv.FormatInt(ms(e.opts.QueueTTL), 10)}).Error()
	if err != nil {
		return failf("redis: enqueue: %w", err)
	}
	return nil
}

// Drain returns the user's queued events, oldest first, and deletes the
// queue, atomically: concurrent drains never both get an event.
func (e *Engine) Drain(ctx context.Context, tenant, user string) ([]*pb.Event, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	vals, err := drainScript.Exec(ctx, e.client, []string{e.n.userQueue(tenant, user)}, nil).AsStrSlice()
	if err != nil {
		return nil, failf("redis: drain: %w", err)
	}
	var out []*pb.Event
	for _, v := range vals {
		ev := &pb.Event{}
		if err := proto.Unmarshal([]byte(v), ev); err != nil {
			return nil, failf("redis: queued event: %w", err)
		}
		out = append(out, ev)
	}
	return out, nil
}
