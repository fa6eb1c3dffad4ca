package redis

import (
	"errors"
	"strconv"
	"strings"
)

// names builds every Redis key and pub/sub channel name of one engine.
//
// A tenant is always written length-prefixed ("<len>:<tenant>"), so that
// no tenant/channel pair can be mistaken for another however either is
// spelled: ("a.b","c") and ("a","b.c") give "3:a.bc" and "1:ab.c". Patterns
// additionally escape the glob characters of the prefix and tenant.
type names struct {
	prefix     string
	control    string // pub/sub channel for control orders
	allPattern string // PSUBSCRIBE pattern for every tenant
	chans      string // sorted set of channels with presence
	nodes      string // hash node id → NodeInfo
	nodesExp   string // sorted set node id → expiry (ms)
}

func newNames(prefix string) names {
	return names{
		prefix:     prefix,
		control:    prefix + ".control",
		allPattern: globEscape(prefix) + ".ev.*",
		chans:      prefix + ":pres:chans",
		nodes:      prefix + ":nodes",
		nodesExp:   prefix + ":nodes:x",
	}
}

// lp length-prefixes a name.
func lp(s string) string { return strconv.Itoa(len(s)) + ":" + s }

// id is the unambiguous identity of a tenant's channel (or user) in keys.
func id(tenant, name string) string { return lp(tenant) + name }

// event is the pub/sub channel a channel's events are published on.
func (n names) event(tenant, channel string) string {
	return n.prefix + ".ev." + lp(tenant) + "." + channel
}

// tenantPattern matches the event channels of every channel of a tenant.
func (n names) tenantPattern(tenant string) string {
	return globEscape(n.prefix) + ".ev." + strconv.Itoa(len(tenant)) + ":" + globEscape(tenant) + ".*"
}

func (n names) histMeta(tenant, channel string) string {
	return n.prefix + ":hist:meta:" + id(tenant, channel)
}

func (n names) histList(tenant, channel string) string {
	return n.prefix + ":hist:list:" + id(tenant, channel)
}

// presKeys are a channel's presence keys: sessions (hash id → entry),
// expiries (sorted set id → ms), users (hash user → count), and the global
// channel index, in the order the Lua scripts take them.
func (n names) presKeys(tenant, channel string) []string {
	i := id(tenant, channel)
	return []string{n.prefix + ":pres:s:" + i, n.prefix + ":pres:x:" + i, n.prefix + ":pres:u:" + i, n.chans}
}

func (n names) userSessions(tenant, user string) string {
	return n.prefix + ":user:s:" + id(tenant, user)
}

func (n names) userQueue(tenant, user string) string {
	return n.prefix + ":user:q:" + id(tenant, user)
}

// globEscape escapes the characters Redis glob patterns give meaning to.
func globEscape(s string) string {
	if !strings.ContainsAny(s, `*?[]\^`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '*', '?', '[', ']', '\\', '^':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// The channel index is one sorted set whose members all score 0, so Redis
// orders them byte-wise (ZRANGEBYLEX). A member is the escaped tenant, a
// 0x00 separator and the channel. Escaping maps 0x00 to 0x01 0x01 and 0x01
// to 0x01 0x02: the escaped tenant holds no 0x00, and byte order is kept,
// so members sort by tenant, then channel, as Channels must list them.

func escapeTenant(t string) string {
	if !strings.ContainsAny(t, "\x00\x01") {
		return t
	}
	var b strings.Builder
	for i := 0; i < len(t); i++ {
		switch c := t[i]; c {
		case 0:
			b.WriteString("\x01\x01")
		case 1:
			b.WriteString("\x01\x02")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

var errBadMember = errors.New("redis: malformed channel index member")

func unescapeTenant(s string) (string, error) {
	if !strings.Contains(s, "\x01") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != 1 {
			b.WriteByte(s[i])
			continue
		}
		if i+1 >= len(s) {
			return "", errBadMember
		}
		i++
		switch s[i] {
		case 1:
			b.WriteByte(0)
		case 2:
			b.WriteByte(1)
		default:
			return "", errBadMember
		}
	}
	return b.String(), nil
}

// member is a channel's entry in the channel index.
func member(tenant, channel string) string { return escapeTenant(tenant) + "\x00" + channel }

// parseMember splits an index member into tenant and channel.
func parseMember(m string) (tenant, channel string, err error) {
	i := strings.IndexByte(m, 0)
	if i < 0 {
		return "", "", errBadMember
	}
	tenant, err = unescapeTenant(m[:i])
	return tenant, m[i+1:], err
}

// lexRange returns the ZRANGEBYLEX bounds of the members that start with
// p: "[p" up to, excluding, the smallest string above every extension of p.
func lexRange(p string) (lo, hi string) {
	b := []byte(p)
	for len(b) > 0 && b[len(b)-1] == 0xff {
		b = b[:len(b)-1]
	}
	if len(b) == 0 {
		return "[" + p, "+"
	}
	b[len(b)-1]++
	return "[" + p, "(" + string(b)
}
