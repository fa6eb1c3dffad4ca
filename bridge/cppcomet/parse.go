package cppcomet

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Protocol limits (§3.3, §5).
const (
	MaxSubscriptions   = 32      // MAX_SUBSCRIPTION_PIPE
	MaxNameLen         = 64      // PIPE_NAME_LEN, EVENT_NAME_LEN; markers too
	MaxSubscriptionArg = 32 * 68 // longest `subscription` argument (2176 bytes)
	minSubscriptionLen = 2       // a shorter token ends the subscription list
)

// ErrUnknownCommand: the frame starts with no known keyword. comet-server
// closes the connection without a message (§3.3 `comand-undefined`).
var ErrUnknownCommand = errors.New("cppcomet: unknown command")

// Command is one parsed client frame.
type Command interface{ command() }

// Subscription replaces the connection's whole pipe set.
type Subscription struct {
	Pipes   []string // distinct, in order, at most MaxSubscriptions
	TooMany bool     // more were listed: send the "Too many letters" error
}

// WebPipe publishes a message (web_pipe2).
type WebPipe struct {
	Pipe    string // without the leading `@`
	Hidden  bool   // `@web_`: the sender's user id is not shown
	Event   string
	Message string // the rest of the frame, as is
}

// PipeLog asks for a pipe's history.
type PipeLog struct{ Pipe, Marker string }

// PipeCount asks how many connections are subscribed to a pipe.
type PipeCount struct{ Pipe, Marker string }

// TrackPipeUsers asks who is subscribed to a track_ pipe.
type TrackPipeUsers struct{ Pipe, Marker string }

// UserStatus asks when a user was last online.
type UserStatus struct{ UserID int64 }

// UserData asks for the data string a backend stored for a user.
type UserData struct {
	Marker string
	UserID int64
}

// Ignored is a command comet-server accepts and does nothing with
// (statistics, cgi_call, CometQL_call).
type Ignored struct{ Keyword string }

func (Subscription) command()   {}
func (WebPipe) command()        {}
func (PipeLog) command()        {}
func (PipeCount) command()      {}
func (TrackPipeUsers) command() {}
func (UserStatus) command()     {}
func (UserData) command()       {}
func (Ignored) command()        {}

// keywords in the order comet-server tests them; each is matched as a
// prefix of the frame (memcmp), and its arguments start one byte after it.
var keywords = []struct {
	word  string
	parse func(args string) (Command, error)
}{
	{"subscription", parseSubscription},
	{"user_status", parseUserStatus},
	{"pipe_count", parsePipeCount},
	{"statistics", ignore("statistics")},
	{"web_pipe2", parseWebPipe},
	{"pipe_log", parsePipeLog},
	{"track_pipe_users", parseTrackPipeUsers},
	{"user_data", parseUserData},
	{"cgi_call", ignore("cgi_call")},
	{"CometQL_call", ignore("CometQL_call")},
}

// ParseCommand turns one client frame into a Command, or returns a
// *ProtocolError (to send as a `sys` error) or ErrUnknownCommand. It never
// panics, whatever the bytes.
func ParseCommand(frame []byte) (Command, error) {
	if !utf8.Valid(frame) {
		// Browsers never send it; anything else would have its bad bytes
		// turned into U+FFFD on the way out (encoding/json).
		return nil, &ProtocolError{Text: textNotUTF8}
	}
	s := string(frame)
	for _, k := range keywords {
		if !strings.HasPrefix(s, k.word) {
			continue
		}
		args := ""
		if len(s) > len(k.word) {
			args = s[len(k.word)+1:] // skip the separator, whatever it is
		}
		return k.parse(args)
	}
	return nil, ErrUnknownCommand
}

func ignore(word string) func(string) (Command, error) {
	return func(string) (Command, error) { return Ignored{Keyword: word}, nil }
}

// isNameByte reports whether c may appear in pipe, event and marker names.
func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// field splits s at its first "\n": the field and what follows it.
func field(s string) (f, rest string, more bool) {
	f, rest, more = strings.Cut(s, "\n")
	return f, rest, more
}

// checkName validates a name the way comet-server scans it: a bad byte or
// a name over MaxNameLen, whichever comes first.
func checkName(name, charsText, lengthText string, shape errorShape) error {
	for i := 0; i < len(name); i++ {
		if !isNameByte(name[i]) {
			return &ProtocolError{Text: charsText, Shape: shape}
		}
		if i >= MaxNameLen {
			return &ProtocolError{Text: lengthText, Shape: shape}
		}
	}
	return nil
}

// checkPipe validates a pipe name; an empty one is refused too.
func checkPipe(pipe string, shape errorShape) error {
	if pipe == "" {
		return &ProtocolError{Text: textPipeName, Shape: shape}
	}
	return checkName(pipe, textChannelChars, textPipeNameLength, shape)
}

// checkMarker validates a request marker (same rules as names, one error
// text for both faults); an empty marker is allowed.
func checkMarker(marker, text string, shape errorShape) error {
	return checkName(marker, text, text, shape)
}

// parseSubscription: `subscription\n<pipe>\n<pipe>...` (§3.3). Names are
// split on any byte outside [A-Za-z0-9_-]; a token shorter than 2 bytes
// ends the list.
func parseSubscription(args string) (Command, error) {
	if len(args) > MaxSubscriptionArg {
		return nil, &ProtocolError{Text: textTooMany, Shape: shapeCode, Close: true}
	}
	var sub Subscription
	seen := make(map[string]bool)
	start := 0
	for i := 0; i <= len(args); i++ {
		if i < len(args) && isNameByte(args[i]) {
			if i-start >= MaxNameLen-1 {
				return nil, &ProtocolError{Text: textNameTooLong, Shape: shapeCode, Close: true}
			}
			continue
		}
		name := args[start:i]
		start = i + 1
		if len(name) < minSubscriptionLen {
			break
		}
		if seen[name] {
			continue
		}
		if len(sub.Pipes) == MaxSubscriptions {
			sub.TooMany = true
			break
		}
		seen[name] = true
		sub.Pipes = append(sub.Pipes, name)
	}
	return sub, nil
}

// parseWebPipe: `web_pipe2\n<pipe>\n<event>\n*\n<message>` (§3.3).
func parseWebPipe(args string) (Command, error) {
	var cmd WebPipe
	switch {
	case strings.HasPrefix(args, "@web_"):
		cmd.Hidden = true
		args = args[1:]
	case strings.HasPrefix(args, "web_"), strings.HasPrefix(args, "webauth_"):
	default:
		return nil, &ProtocolError{Text: textWebPipePrefix}
	}
	pipe, rest, _ := field(args)
	if err := checkPipe(pipe, shapeMessages); err != nil {
		return nil, err
	}
	event, rest, _ := field(rest)
	if err := checkName(event, textEventChars, textEventLength, shapeMessages); err != nil {
		return nil, err
	}
	// The fourth field is an obsolete auth type: exactly one byte (clients
	// send `*`), then "\n".
	if len(rest) < 2 || rest[1] != '\n' {
		return nil, &ProtocolError{Text: textAuthType}
	}
	cmd.Pipe, cmd.Event, cmd.Message = pipe, event, rest[2:]
	return cmd, nil
}

// pipeAndMarker reads `<pipe>\n<marker>\n` (pipe_log, pipe_count).
func pipeAndMarker(args string, shape errorShape) (pipe, marker string, err error) {
	pipe, rest, _ := field(args)
	if err := checkPipe(pipe, shape); err != nil {
		return "", "", err
	}
	marker, _, _ = field(rest)
	if err := checkMarker(marker, textMarkerValue, shape); err != nil {
		return "", "", err
	}
	return pipe, marker, nil
}

// parsePipeLog: `pipe_log\n<pipe>\n<marker>\n`; any pipe name is allowed.
func parsePipeLog(args string) (Command, error) {
	pipe, marker, err := pipeAndMarker(args, shapeMessages)
	if err != nil {
		return nil, err
	}
	return PipeLog{Pipe: pipe, Marker: marker}, nil
}

// parsePipeCount: `pipe_count\n<pipe>\n<marker>\n`, web_ and track_ pipes only.
func parsePipeCount(args string) (Command, error) {
	pipe, marker, err := pipeAndMarker(args, shapeMessages)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(pipe, "web_") && !strings.HasPrefix(pipe, "track_") {
		return nil, &ProtocolError{Text: textPipeCountName}
	}
	return PipeCount{Pipe: pipe, Marker: marker}, nil
}

// parseTrackPipeUsers: `track_pipe_users\n<pipe>\n<marker>`, track_ pipes
// only; the prefix is checked first, as comet-server does.
func parseTrackPipeUsers(args string) (Command, error) {
	if !strings.HasPrefix(args, "track_") {
		return nil, &ProtocolError{Text: textTrackName, Shape: shapeUsers}
	}
	pipe, marker, err := pipeAndMarker(args, shapeUsers)
	if err != nil {
		return nil, err
	}
	return TrackPipeUsers{Pipe: pipe, Marker: marker}, nil
}

// parseUserStatus: `user_status\n<user id>`.
func parseUserStatus(args string) (Command, error) {
	id, _, _ := field(args)
	uid, ok := userID(id)
	if !ok {
		return nil, &ProtocolError{Text: textUserID}
	}
	return UserStatus{UserID: uid}, nil
}

// parseUserData: `user_data\n<marker>\n<user id>`.
func parseUserData(args string) (Command, error) {
	marker, rest, _ := field(args)
	if err := checkMarker(marker, textMarkerName, shapeUserData); err != nil {
		return nil, err
	}
	id, _, _ := field(rest)
	uid, ok := userID(id)
	if !ok {
		return nil, &ProtocolError{Text: textUserID, Shape: shapeUserData}
	}
	return UserData{Marker: marker, UserID: uid}, nil
}

// userID reads a positive decimal user id.
func userID(s string) (int64, bool) {
	s = strings.TrimRight(s, "\r ")
	if !isDigits(s) {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n > 0
}
