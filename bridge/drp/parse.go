package drp

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Verb is the command word of a client frame (drp.md §3.1).
type Verb uint8

// The two commands a client may send. Anything else is ignored.
const (
	Register Verb = iota + 1
	Deregister
)

// Command words as they appear on the wire: exact, case-sensitive.
const (
	wordRegister   = "register"
	wordDeregister = "deregister"
)

// String returns the command word, which is also the ack event's Action.
func (v Verb) String() string {
	switch v {
	case Register:
		return wordRegister
	case Deregister:
		return wordDeregister
	default:
		return fmt.Sprintf("Verb(%d)", uint8(v))
	}
}

// Command is one parsed client frame.
type Command struct {
	Verb Verb
	// Filter is everything after the first space, verbatim: it is the
	// identity used for dedup and deregister and the ack's Key.
	Filter string
}

// ErrNotCommand: the frame is not "register <filter>" or "deregister
// <filter>". The v3 server logs such frames and ignores them; so do we.
var ErrNotCommand = errors.New("drp: not a register or deregister command")

// ErrInvalidUTF8: the frame is not valid UTF-8. It is ignored like any
// frame that is not a command.
var ErrInvalidUTF8 = fmt.Errorf("%w: invalid UTF-8", ErrNotCommand)

// ParseCommand parses one client frame. The frame is trimmed of surrounding
// white space and split at the first space (v3 websocketHandler); the prefix
// must be exactly "register" or "deregister". The filter text is not checked
// here: any text, even a malformed filter, is stored and acknowledged.
func ParseCommand(frame []byte) (Command, error) {
	if !utf8.Valid(frame) {
		// encoding/json would turn the bad bytes into U+FFFD in the ack
		// and the filter would name a channel nobody asked for.
		return Command{}, ErrInvalidUTF8
	}
	s := strings.TrimSpace(string(frame))
	word, filter, ok := strings.Cut(s, " ")
	if !ok {
		return Command{}, fmt.Errorf("%w: no space in %q", ErrNotCommand, clip(s))
	}
	switch word {
	case wordRegister:
		return Command{Verb: Register, Filter: filter}, nil
	case wordDeregister:
		return Command{Verb: Deregister, Filter: filter}, nil
	default:
		return Command{}, fmt.Errorf("%w: unknown word %q", ErrNotCommand, clip(word))
	}
}

// clip shortens text quoted in errors and logs.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}

// ErrMalformedFilter: the filter has fewer than two dots, so it has no
// type.action.key parts. Such a filter is still stored and acknowledged but
// never matches (drp.md §4: the v3 server could panic on it; the v4 client
// treats it as never matching).
var ErrMalformedFilter = errors.New("drp: filter is not type.action.key")

// anyPart is the part that matches every value.
const anyPart = "*"

// Filter is a parsed type.action.key filter.
//
// Matching (drp.md §6.1 and §6.2), for each of the three parts:
//
//   - a part that is exactly "*" matches any value, including "";
//   - otherwise the part is a comma-separated list of alternatives, each
//     trimmed of surrounding white space and then unescaped (\1 → ".",
//     \2 → ",", \3 → "*"); the value must equal one alternative exactly
//     (case-sensitive). A part without a comma is a list of one, so it is
//     trimmed too (v4 behaviour); an empty alternative matches only "".
//
// A "*" that is an alternative of a list ("a,*", " * ", or "\3") is the
// literal value "*", not a wildcard. The core's Filter cannot express that
// value (a "*" in a pb.Filter list means any), so such an alternative never
// matches — rather than matching everything. Events with a "*" Action or Key
// are therefore not delivered through literal-star filters; a "*" Type cannot
// be published at all (the core reserves that channel name).
type Filter struct {
	Type, Action, Key Part
}

// Part is one of the three parts of a filter.
type Part struct {
	// Any is set when the part is exactly "*".
	Any bool
	// Values are the alternatives, trimmed and unescaped, in the order
	// given (duplicates kept). Unused when Any is set.
	Values []string
}

// unescaper applies the v4 escapes in one left-to-right pass.
var unescaper = strings.NewReplacer(`\1`, ".", `\2`, ",", `\3`, "*")

// ParseFilter parses "type.action.key". The text is split at its first two
// dots, so the key may contain dots ("machines.update.a.b" has key "a.b").
// It fails only with ErrMalformedFilter; it never panics.
func ParseFilter(s string) (Filter, error) {
	parts := strings.SplitN(s, ".", 3)
	if len(parts) != 3 {
		return Filter{}, fmt.Errorf("%w: %q has %d dot(s)", ErrMalformedFilter, clip(s), len(parts)-1)
	}
	return Filter{
		Type:   parsePart(parts[0]),
		Action: parsePart(parts[1]),
		Key:    parsePart(parts[2]),
	}, nil
}

func parsePart(p string) Part {
	if p == anyPart {
		return Part{Any: true}
	}
	items := strings.Split(p, ",")
	values := make([]string, len(items))
	for i, it := range items {
		values[i] = unescaper.Replace(strings.TrimSpace(it))
	}
	return Part{Values: values}
}

// Match reports whether an event with these fields passes the filter.
func (f Filter) Match(typ, action, key string) bool {
	return f.Type.Match(typ) && f.Action.Match(action) && f.Key.Match(key)
}

// Match reports whether the part accepts v. A literal "*" alternative never
// matches (see Filter).
func (p Part) Match(v string) bool {
	if p.Any {
		return true
	}
	return v != anyPart && slices.Contains(p.Values, v)
}

// matchable returns the alternatives that can match: the values without
// literal "*", deduplicated, in first-seen order. nil for an Any part.
func (p Part) matchable() []string {
	if p.Any {
		return nil
	}
	out := make([]string, 0, len(p.Values))
	for _, v := range p.Values {
		if v != anyPart && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// CanMatch reports whether some event can pass the filter: false when a part
// has only literal "*" alternatives.
func (f Filter) CanMatch() bool {
	for _, p := range []Part{f.Type, f.Action, f.Key} {
		if !p.Any && len(p.matchable()) == 0 {
			return false
		}
	}
	return true
}
