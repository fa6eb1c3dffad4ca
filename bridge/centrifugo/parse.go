package centrifugo

import (
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// Method names of the v1 server API (centrifugo-v1.md §3.3). They are
// lower-case and matched case-sensitively.
const (
	MethodPublish     = "publish"
	MethodBroadcast   = "broadcast"
	MethodUnsubscribe = "unsubscribe"
	MethodDisconnect  = "disconnect"
	MethodPresence    = "presence"
	MethodHistory     = "history"
	MethodChannels    = "channels"
	MethodStats       = "stats"
	MethodNode        = "node"
)

// knownMethod reports whether m is one of the methods above.
func knownMethod(m string) bool {
	switch m {
	case MethodPublish, MethodBroadcast, MethodUnsubscribe, MethodDisconnect,
		MethodPresence, MethodHistory, MethodChannels, MethodStats, MethodNode:
		return true
	}
	return false
}

// Command is one decoded API command. Params holds the method's parameters:
// *PublishParams, *BroadcastParams, *UnsubscribeParams, *DisconnectParams,
// *ChannelParams (presence, history) or nil (channels, stats, node, whose
// params v1 ignores).
type Command struct {
	UID    string // echoed as the reply's "uid"; empty = omitted
	Method string
	Params any
}

// PublishParams are the params of publish.
type PublishParams struct {
	Channel string          `json:"channel"`
	Data    json.RawMessage `json:"data"`   // the exact bytes of the JSON value, stored verbatim
	Client  string          `json:"client"` // optional: becomes Event.publisher.client
	UID     string          `json:"uid"`    // optional (v1.7.7+): becomes Event.id
}

// BroadcastParams are the params of broadcast.
type BroadcastParams struct {
	Channels []string        `json:"channels"`
	Data     json.RawMessage `json:"data"`
	Client   string          `json:"client"`
}

// UnsubscribeParams are the params of unsubscribe; an empty channel means
// every channel.
type UnsubscribeParams struct {
	Channel string `json:"channel"`
	User    string `json:"user"`
}

// DisconnectParams are the params of disconnect.
type DisconnectParams struct {
	User string `json:"user"`
}

// ChannelParams are the params of presence and history.
type ChannelParams struct {
	Channel string `json:"channel"`
}

// rawCommand is the envelope {method, params, uid}. encoding/json is used
// on purpose: it is what v1 decoded with, so its leniencies (case-insensitive
// keys, unknown keys ignored, last duplicate wins) are the face's too.
type rawCommand struct {
	UID    string          `json:"uid"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
}

// DecodeCommands turns an HTTP API body into commands. The first byte
// decides the shape: '{' one command, '[' an array of them; anything else,
// leading whitespace included, is rejected as v1 does (centrifugo-v1.md
// §3.1). Every command is decoded before any runs, so a structural error
// rejects the batch without side effects (v1 ran the commands before the bad
// one; a client cannot tell, as both answer 400). The error is a *ParseError.
func DecodeCommands(body []byte) ([]Command, error) {
	if len(body) == 0 {
		return nil, &ParseError{Kind: ErrInvalidMessage, Cause: errors.New("empty body")}
	}
	if !utf8.Valid(body) {
		// encoding/json would decode the bad bytes as U+FFFD: a channel
		// name nobody sent.
		return nil, &ParseError{Kind: ErrInvalidMessage, Cause: errors.New("body is not valid UTF-8")}
	}
	if body[0] == '{' || body[0] == '[' {
		if cmds, ok := decodeFast(body); ok {
			return cmds, nil
		}
	}
	return decodeSlow(body)
}

// decodeSlow is DecodeCommands with encoding/json alone, for a non-empty
// UTF-8 body.
func decodeSlow(body []byte) ([]Command, error) {
	var raws []rawCommand
	switch body[0] {
	case '{':
		var rc rawCommand
		if err := json.Unmarshal(body, &rc); err != nil {
			return nil, &ParseError{Kind: ErrInvalidMessage, Cause: err}
		}
		raws = []rawCommand{rc}
	case '[':
		if err := json.Unmarshal(body, &raws); err != nil {
			return nil, &ParseError{Kind: ErrInvalidMessage, Cause: err}
		}
	default:
		return nil, &ParseError{Kind: ErrInvalidMessage, Cause: errors.New("body must start with '{' or '['")}
	}
	cmds := make([]Command, 0, len(raws))
	for i, rc := range raws {
		cmd, err := decodeCommand(rc)
		if err != nil {
			err.Index = i
			return nil, err
		}
		cmds = append(cmds, cmd)
	}
	return cmds, nil
}

// DecodeQueueItem turns one item of the Redis API list into commands. An
// item is a single command object; the pre-1.6 form {"data":[command, ...]}
// is still accepted (centrifugo-v1.md §3.4). An array item is rejected. In
// the pre-1.6 form a bad command is reported (errors joined) and the good
// ones are still returned, since items carry no response to fail.
func DecodeQueueItem(item []byte) ([]Command, error) {
	if len(item) == 0 || item[0] != '{' {
		return nil, &ParseError{Kind: ErrInvalidMessage, Cause: errors.New("queue item must be one command object")}
	}
	if !utf8.Valid(item) {
		return nil, &ParseError{Kind: ErrInvalidMessage, Cause: errors.New("queue item is not valid UTF-8")}
	}
	var env struct {
		rawCommand
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(item, &env); err != nil {
		return nil, &ParseError{Kind: ErrInvalidMessage, Cause: err}
	}
	if env.Method != "" || len(env.Data) == 0 || env.Data[0] != '[' {
		cmd, perr := decodeCommand(env.rawCommand)
		if perr != nil {
			return nil, perr
		}
		return []Command{cmd}, nil
	}
	var raws []rawCommand
	if err := json.Unmarshal(env.Data, &raws); err != nil {
		return nil, &ParseError{Kind: ErrInvalidMessage, Cause: err}
	}
	var (
		cmds []Command
		errs []error
	)
	for i, rc := range raws {
		cmd, perr := decodeCommand(rc)
		if perr != nil {
			perr.Index = i
			errs = append(errs, perr)
			continue
		}
		cmds = append(cmds, cmd)
	}
	return cmds, errors.Join(errs...)
}

// decodeCommand decodes the params of one command. As in v1, params that do
// not decode into the method's struct (including absent params for a method
// that takes some) and a publish without channel or data are structural
// errors; other bad values are left to the executor and the core, which
// answer them in the reply.
func decodeCommand(rc rawCommand) (Command, *ParseError) {
	cmd := Command{UID: rc.UID, Method: rc.Method}
	var target any
	switch rc.Method {
	case MethodPublish:
		target = &PublishParams{}
	case MethodBroadcast:
		target = &BroadcastParams{}
	case MethodUnsubscribe:
		target = &UnsubscribeParams{}
	case MethodDisconnect:
		target = &DisconnectParams{}
	case MethodPresence, MethodHistory:
		target = &ChannelParams{}
	case MethodChannels, MethodStats, MethodNode:
		return cmd, nil
	default:
		return cmd, &ParseError{Method: rc.Method, Kind: ErrMethodNotFound}
	}
	if err := json.Unmarshal(rc.Params, target); err != nil {
		return cmd, &ParseError{Method: rc.Method, Kind: ErrInvalidMessage, Cause: err}
	}
	if p, ok := target.(*PublishParams); ok && (p.Channel == "" || len(p.Data) == 0) {
		return cmd, &ParseError{Method: rc.Method, Kind: ErrInvalidMessage, Cause: errors.New("publish needs channel and data")}
	}
	cmd.Params = target
	return cmd, nil
}
