package memory

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/services/engine"
	"google.golang.org/protobuf/proto"
)

var errNoSession = errors.New("memory: session without id")

// presence maps channels to the sessions in them. Each channel keeps a user
// reference count next to its sessions, so both counts are map lengths and
// nothing is recounted.
type presence struct {
	mu    sync.RWMutex
	chans map[key]*presChan
}

type presChan struct {
	sessions map[string]*pb.Session
	users    map[string]int // user id → sessions of that user in the channel
}

func (p *presence) init() { p.chans = map[key]*presChan{} }

// AddPresence puts s in the channel. Adding the same session again replaces
// its entry (and moves it to another user if its user changed).
func (e *Engine) AddPresence(ctx context.Context, tenant, channel string, s *pb.Session) error {
	if err := e.check(); err != nil {
		return err
	}
	_, err := e.addPresence(tenant, channel, s, false)
	return err
}

// ClaimPresence puts s in the channel unless its id is there already.
func (e *Engine) ClaimPresence(ctx context.Context, tenant, channel string, s *pb.Session) (bool, error) {
	if err := e.check(); err != nil {
		return false, err
	}
	return e.addPresence(tenant, channel, s, true)
}

// addPresence adds or replaces s; with claim an entry already there is
// kept and false returned.
func (e *Engine) addPresence(tenant, channel string, s *pb.Session, claim bool) (bool, error) {
	if s.GetId() == "" {
		return false, errNoSession
	}
	s = proto.CloneOf(s)
	p := &e.pres
	k := key{tenant, channel}
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.chans[k]
	if c == nil {
		c = &presChan{sessions: map[string]*pb.Session{}, users: map[string]int{}}
		p.chans[k] = c
	}
	if old := c.sessions[s.Id]; old != nil {
		if claim {
			return false, nil
		}
		c.dropUser(old.User)
	}
	c.sessions[s.Id] = s
	c.users[s.User]++
	return true, nil
}

// RemovePresence takes the session out of the channel.
func (e *Engine) RemovePresence(ctx context.Context, tenant, channel, sessionID string) error {
	if err := e.check(); err != nil {
		return err
	}
	p := &e.pres
	k := key{tenant, channel}
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.chans[k]
	if c == nil {
		return nil
	}
	old := c.sessions[sessionID]
	if old == nil {
		return nil
	}
	delete(c.sessions, sessionID)
	c.dropUser(old.User)
	if len(c.sessions) == 0 {
		delete(p.chans, k)
	}
	return nil
}

func (c *presChan) dropUser(user string) {
	if n := c.users[user]; n <= 1 {
		delete(c.users, user)
	} else {
		c.users[user] = n - 1
	}
}

// Presence lists the channel's sessions, sorted by id.
func (e *Engine) Presence(ctx context.Context, tenant, channel string) ([]*pb.Session, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	p := &e.pres
	p.mu.RLock()
	c := p.chans[key{tenant, channel}]
	var out []*pb.Session
	if c != nil {
		out = make([]*pb.Session, 0, len(c.sessions))
		for _, s := range c.sessions {
			out = append(out, proto.CloneOf(s))
		}
	}
	p.mu.RUnlock()
	slices.SortFunc(out, func(a, b *pb.Session) int { return strings.Compare(a.Id, b.Id) })
	return out, nil
}

// PresenceStats counts the channel's sessions and distinct users.
func (e *Engine) PresenceStats(ctx context.Context, tenant, channel string) (sessions, users int, err error) {
	if err := e.check(); err != nil {
		return 0, 0, err
	}
	p := &e.pres
	p.mu.RLock()
	defer p.mu.RUnlock()
	if c := p.chans[key{tenant, channel}]; c != nil {
		users := len(c.users)
		if c.users[""] > 0 {
			users-- // anonymous sessions are not a user
		}
		return len(c.sessions), users, nil
	}
	return 0, 0, nil
}

// Channels lists channels with sessions, sorted by tenant then channel. A
// limit of zero or less lists them all.
func (e *Engine) Channels(ctx context.Context, tenant, prefix string, limit int) ([]*pb.ChannelSummary, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	p := &e.pres
	var out []*pb.ChannelSummary
	p.mu.RLock()
	for k, c := range p.chans {
		if tenant != engine.AllTenants && k.tenant != tenant {
			continue
		}
		if !strings.HasPrefix(k.channel, prefix) {
			continue
		}
		out = append(out, &pb.ChannelSummary{Tenant: k.tenant, Channel: k.channel, NumSessions: uint32(len(c.sessions))})
	}
	p.mu.RUnlock()
	slices.SortFunc(out, func(a, b *pb.ChannelSummary) int {
		return cmp.Or(strings.Compare(a.Tenant, b.Tenant), strings.Compare(a.Channel, b.Channel))
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}
