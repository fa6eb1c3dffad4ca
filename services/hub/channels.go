package hub

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchboard-hub/switchboard/services/engine"
)

// Namespace holds options for the channels named "<name>:..." (a leading "$"
// of a private channel is ignored), as Centrifugo namespaces do.
type Namespace struct {
	Name        string
	HistorySize int
	HistoryTTL  time.Duration
	Presence    bool // keep presence (and answer Presence)
	JoinLeave   bool // publish JOIN/LEAVE events into the channel
}

// channelOptions are the options in force for one channel.
type channelOptions struct {
	history   engine.HistoryOptions
	presence  bool
	joinLeave bool
}

// MaxChannelLength bounds channel names (Centrifugo's limit).
const MaxChannelLength = 255

// validChannel checks a channel name given in field.
func validChannel(field, ch string) error {
	switch {
	case ch == "":
		return invalid(field, "channel is required")
	case len(ch) > MaxChannelLength:
		return invalid(field, "channel is longer than %d bytes", MaxChannelLength)
	case !utf8.ValidString(ch):
		return invalid(field, "channel is not valid UTF-8")
	case ch == engine.AllChannels:
		return invalid(field, "%q is not a channel name", ch)
	}
	return nil
}

// optionsFor resolves the options of a channel from its namespace.
func (h *Hub) optionsFor(channel string) (channelOptions, error) {
	name := strings.TrimPrefix(channel, "$")
	ns, _, found := strings.Cut(name, ":")
	if !found {
		return h.defaults, nil
	}
	if ns == SysNamespace {
		return sysOptions, nil
	}
	o, ok := h.namespaces[ns]
	if !ok {
		return channelOptions{}, errNamespaceNotFound
	}
	return o, nil
}

// userAllowed reports whether user may receive a channel's events: after
// the last "#" a channel may name the only users allowed ("news#42",
// "dialog#42,43").
func userAllowed(channel, user string) bool {
	i := strings.LastIndexByte(channel, '#')
	if i < 0 {
		return true
	}
	for _, u := range strings.Split(channel[i+1:], ",") {
		if u == user && u != "" {
			return true
		}
	}
	return false
}
