package centrifugo

import (
	"encoding/json"
	"strings"
)

// decodeFast is DecodeCommands' fast path for the bodies API clients send:
// plain keys (uid, method, params; channel, data, client, uid) and strings
// without escapes. It decodes exactly what encoding/json would, or reports
// ok=false and leaves the body to encoding/json, for anything else (an
// escape, a key that only matches when case is ignored, a value of the
// wrong type, a bad command): the face's leniencies and errors stay
// encoding/json's own (parse.go), and FuzzDecodeFast holds both paths to
// the same answer. body must be valid UTF-8 and start with '{' or '['.
//
// Strings are copied; PublishParams.Data is a slice of body, which must not
// change afterwards (encoding/json copies it).
func decodeFast(body []byte) (cmds []Command, ok bool) {
	if !json.Valid(body) {
		return nil, false // encoding/json's error, please
	}
	d := fastDecoder{b: body}
	if body[0] == '{' {
		cmd, ok := d.command()
		if !ok || !d.end() {
			return nil, false
		}
		return []Command{cmd}, true
	}
	d.i++ // '['
	d.space()
	if d.peek() == ']' {
		return []Command{}, true
	}
	cmds = make([]Command, 0, strings.Count(string(body), `"method"`))
	for {
		d.space()
		cmd, ok := d.command()
		if !ok {
			return nil, false
		}
		cmds = append(cmds, cmd)
		d.space()
		switch d.next() {
		case ',':
			continue
		case ']':
			if !d.end() {
				return nil, false
			}
			return cmds, true
		default:
			return nil, false
		}
	}
}

// fastDecoder walks a body that json.Valid accepted, so it may skip values
// without checking them.
type fastDecoder struct {
	b []byte
	i int
}

func (d *fastDecoder) peek() byte {
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

func (d *fastDecoder) next() byte {
	c := d.peek()
	d.i++
	return c
}

func (d *fastDecoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// end reports whether only white space is left.
func (d *fastDecoder) end() bool {
	d.space()
	return d.i == len(d.b)
}

// object calls field for each key of the object at d.i; field reads the
// value. A false from field, or a key that is not plain, stops it.
func (d *fastDecoder) object(field func(key string) bool) bool {
	d.space()
	if d.next() != '{' {
		return false
	}
	d.space()
	if d.peek() == '}' {
		d.i++
		return true
	}
	for {
		d.space()
		key, ok := d.plainString()
		if !ok {
			return false
		}
		d.space()
		d.i++ // ':'
		d.space()
		if !field(key) {
			return false
		}
		d.space()
		switch d.next() {
		case ',':
		case '}':
			return true
		default:
			return false
		}
	}
}

// plainString reads a string without escapes, as its bytes (a view into
// the body).
func (d *fastDecoder) plainString() (string, bool) {
	if d.peek() != '"' {
		return "", false
	}
	start := d.i + 1
	for j := start; j < len(d.b); j++ {
		switch d.b[j] {
		case '\\':
			return "", false
		case '"':
			d.i = j + 1
			return string(d.b[start:j]), true
		}
	}
	return "", false
}

// stringField reads a string value into *dst as encoding/json would: null
// leaves it as it is; any other type is not for the fast path.
func (d *fastDecoder) stringField(dst *string) bool {
	if d.peek() == 'n' {
		d.i += len("null")
		return true
	}
	s, ok := d.plainString()
	if ok {
		*dst = s
	}
	return ok
}

// raw returns the bytes of the value at d.i and skips it.
func (d *fastDecoder) raw() []byte {
	start := d.i
	switch d.peek() {
	case '"':
		d.skipString()
	case '{', '[':
		depth := 0
		for d.i < len(d.b) {
			switch d.b[d.i] {
			case '"':
				d.skipString()
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					d.i++
					return d.b[start:d.i]
				}
			}
			d.i++
		}
	default: // number, true, false, null
		for d.i < len(d.b) {
			switch d.b[d.i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return d.b[start:d.i]
			}
			d.i++
		}
	}
	return d.b[start:d.i]
}

// skipString moves past the string at d.i.
func (d *fastDecoder) skipString() {
	d.i++ // the opening quote
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case '\\':
			d.i += 2
			continue
		case '"':
			d.i++
			return
		}
		d.i++
	}
}

// foldsTo reports whether key names one of names when case is ignored:
// encoding/json would match it, so it is not for the fast path. Non-ASCII
// keys are left to encoding/json too (its folding maps some to ASCII).
func foldsTo(key string, names ...string) bool {
	for i := 0; i < len(key); i++ {
		if key[i] >= 0x80 {
			return true
		}
	}
	for _, n := range names {
		if strings.EqualFold(key, n) {
			return true
		}
	}
	return false
}

// command reads one command object.
func (d *fastDecoder) command() (Command, bool) {
	var (
		cmd       Command
		params    []byte
		hasParams bool
	)
	ok := d.object(func(key string) bool {
		switch key {
		case "uid":
			return d.stringField(&cmd.UID)
		case "method":
			if !d.stringField(&cmd.Method) {
				return false
			}
			cmd.Method = internMethod(cmd.Method)
			return true
		case "params":
			params, hasParams = d.raw(), true
			return true
		}
		if foldsTo(key, "uid", "method", "params") {
			return false
		}
		d.raw()
		return true
	})
	if !ok {
		return cmd, false
	}
	if cmd.Method == MethodPublish && hasParams {
		if p, ok := publishParams(params); ok {
			cmd.Params = p
			return cmd, true
		}
	}
	// Any other command, and publish params that are not plain: as
	// parse.go decodes them. An error is left to the slow path, which
	// reports the right command.
	rc := rawCommand{UID: cmd.UID, Method: cmd.Method}
	if hasParams {
		rc.Params = params
	}
	cmd, perr := decodeCommand(rc)
	return cmd, perr == nil
}

// publishParams decodes plain publish params.
func publishParams(params []byte) (*PublishParams, bool) {
	if len(params) == 0 || params[0] != '{' {
		return nil, false
	}
	p := &PublishParams{}
	pd := fastDecoder{b: params}
	ok := pd.object(func(key string) bool {
		switch key {
		case "channel":
			return pd.stringField(&p.Channel)
		case "client":
			return pd.stringField(&p.Client)
		case "uid":
			return pd.stringField(&p.UID)
		case "data":
			p.Data = pd.raw()
			return true
		}
		if foldsTo(key, "channel", "client", "uid", "data") {
			return false
		}
		pd.raw()
		return true
	})
	if !ok || p.Channel == "" || len(p.Data) == 0 {
		return nil, false
	}
	return p, true
}

// internMethod returns the constant for a known method name, so that the
// name decoded from each command is not kept as a copy of its own.
func internMethod(m string) string {
	switch m {
	case MethodPublish:
		return MethodPublish
	case MethodBroadcast:
		return MethodBroadcast
	case MethodHistory:
		return MethodHistory
	case MethodPresence:
		return MethodPresence
	}
	return m
}
