package redis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/rueidis"
	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/services/engine"
	"google.golang.org/protobuf/proto"
)

var errNoSession = errors.New("redis: session without id")

// presenceEntry is the stored value of a session in a channel: the user,
// length-prefixed so the scripts can read it, then the encoded session.
func presenceEntry(s *pb.Session) (string, error) {
	b, err := proto.Marshal(s)
	if err != nil {
		return "", failf("redis: encode session: %w", err)
	}
	return lp(s.User) + string(b), nil
}

var errBadPresence = errors.New("redis: malformed presence entry")

// parsePresenceEntry decodes what presenceEntry made.
func parsePresenceEntry(v string) (*pb.Session, error) {
	i := strings.IndexByte(v, ':')
	if i < 1 {
		return nil, errBadPresence
	}
	n, err := strconv.Atoi(v[:i])
	if err != nil || n < 0 || n > len(v)-i-1 {
		return nil, errBadPresence
	}
	s := &pb.Session{}
	if err := proto.Unmarshal([]byte(v[i+1+n:]), s); err != nil {
		return nil, fmt.Errorf("%w: %w", errBadPresence, err)
	}
	return s, nil
}

// presenceAdd is the script call that adds (or refreshes) one entry.
func (e *Engine) presenceAdd(tenant, channel string, s *pb.Session, entry string) rueidis.LuaExec {
	return rueidis.LuaExec{
		Keys: e.n.presKeys(tenant, channel),
		Args: []string{s.Id, s.User, entry, strconv.FormatInt(ms(e.opts.PresenceTTL), 10), member(tenant, channel)},
	}
}

// AddPresence puts the session in the channel and has this node refresh
// the entry until RemovePresence; if the node dies, the entry expires.
func (e *Engine) AddPresence(ctx context.Context, tenant, channel string, s *pb.Session) error {
	if err := e.check(); err != nil {
		return err
	}
	if s.GetId() == "" {
		return errNoSession
	}
	entry, err := presenceEntry(s)
	if err != nil {
		return err
	}
	x := e.presenceAdd(tenant, channel, s, entry)
	e.own.hold()
	defer e.own.unhold()
	if err := presenceAddScript.Exec(ctx, e.client, x.Keys, x.Args).Error(); err != nil {
		return failf("redis: add presence: %w", err)
	}
	e.own.setPresence(presKey{tenant, channel, s.Id}, x)
	return nil
}

// ClaimPresence is AddPresence unless a live entry with the session's id
// is in the channel already; the check and the write are one script.
func (e *Engine) ClaimPresence(ctx context.Context, tenant, channel string, s *pb.Session) (bool, error) {
	if err := e.check(); err != nil {
		return false, err
	}
	if s.GetId() == "" {
		return false, errNoSession
	}
	entry, err := presenceEntry(s)
	if err != nil {
		return false, err
	}
	x := e.presenceAdd(tenant, channel, s, entry)
	e.own.hold()
	defer e.own.unhold()
	added, err := presenceAddScript.Exec(ctx, e.client, x.Keys, append(slices.Clip(x.Args), "claim")).AsInt64()
	if err != nil {
		return false, failf("redis: claim presence: %w", err)
	}
	if added != 1 {
		return false, nil
	}
	// Refreshes rewrite the entry (without "claim"): it is ours now.
	e.own.setPresence(presKey{tenant, channel, s.Id}, x)
	return true, nil
}

// RemovePresence takes the session out of the channel.
func (e *Engine) RemovePresence(ctx context.Context, tenant, channel, sessionID string) error {
	if err := e.check(); err != nil {
		return err
	}
	e.own.hold()
	defer e.own.unhold()
	e.own.deletePresence(presKey{tenant, channel, sessionID})
	err := presenceRemoveScript.Exec(ctx, e.client, e.n.presKeys(tenant, channel), []string{sessionID, member(tenant, channel)}).Error()
	if err != nil {
		return failf("redis: remove presence: %w", err)
	}
	return nil
}

// Presence lists the channel's live sessions, sorted by id.
func (e *Engine) Presence(ctx context.Context, tenant, channel string) ([]*pb.Session, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	vals, err := presenceReadScript.Exec(ctx, e.client, e.n.presKeys(tenant, channel), []string{member(tenant, channel), "list"}).AsStrSlice()
	if err != nil {
		return nil, failf("redis: presence: %w", err)
	}
	out := make([]*pb.Session, 0, len(vals))
	for _, v := range vals {
		s, err := parsePresenceEntry(v)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *pb.Session) int { return strings.Compare(a.Id, b.Id) })
	return out, nil
}

// PresenceStats counts the channel's sessions and distinct users; both are
// hash lengths, kept up to date by the scripts.
func (e *Engine) PresenceStats(ctx context.Context, tenant, channel string) (sessions, users int, err error) {
	if err := e.check(); err != nil {
		return 0, 0, err
	}
	return e.stats(presenceReadScript.Exec(ctx, e.client, e.n.presKeys(tenant, channel), []string{member(tenant, channel), "stats"}))
}

func (e *Engine) stats(r rueidis.RedisResult) (sessions, users int, err error) {
	n, err := r.AsIntSlice()
	if err != nil {
		return 0, 0, failf("redis: presence stats: %w", err)
	}
	if len(n) != 2 {
		return 0, 0, fmt.Errorf("redis: presence stats: %w", errReply)
	}
	return int(n[0]), int(n[1]), nil
}

// channelsBatch is how many index members Channels reads at a time.
const channelsBatch = 256

// Channels walks the channel index in byte order (which is tenant, then
// channel order) from the first member that can match, counting each
// candidate's live sessions; channels whose sessions all expired are
// dropped from the index on the way.
func (e *Engine) Channels(ctx context.Context, tenant, prefix string, limit int) ([]*pb.ChannelSummary, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	lo, hi := "-", "+"
	if tenant != engine.AllTenants {
		lo, hi = lexRange(escapeTenant(tenant) + "\x00" + prefix)
	}
	var out []*pb.ChannelSummary
	for {
		members, err := e.client.Do(ctx, e.client.B().Zrangebylex().Key(e.n.chans).Min(lo).Max(hi).Limit(0, channelsBatch).Build()).AsStrSlice()
		if err != nil {
			return nil, failf("redis: channels: %w", err)
		}
		var cands []*pb.ChannelSummary
		var execs []rueidis.LuaExec
		for _, m := range members {
			t, ch, err := parseMember(m)
			if err != nil {
				e.log.Warn("skipping malformed channel index member", "err", err)
				continue
			}
			if !strings.HasPrefix(ch, prefix) {
				continue
			}
			cands = append(cands, &pb.ChannelSummary{Tenant: t, Channel: ch})
			execs = append(execs, rueidis.LuaExec{Keys: e.n.presKeys(t, ch), Args: []string{m, "stats"}})
		}
		if len(execs) > 0 {
			for i, r := range presenceReadScript.ExecMulti(ctx, e.client, execs...) {
				sessions, _, err := e.stats(r)
				if err != nil {
					return nil, err
				}
				if sessions == 0 {
					continue
				}
				cands[i].NumSessions = uint32(sessions)
				out = append(out, cands[i])
				if limit > 0 && len(out) == limit {
					return out, nil
				}
			}
		}
		if len(members) < channelsBatch {
			return out, nil
		}
		lo = "(" + members[len(members)-1]
	}
}
