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
// The body is copied once into a string that every decoded string shares,
// and the params of all commands share one array; PublishParams.Data is a
// slice of body, which must not change afterwards (encoding/json copies it).
func decodeFast(body []byte) (cmds []Command, ok bool) {
	if !json.Valid(body) {
		return nil, false // encoding/json's error, please
	}
	d := fastDecoder{b: body, s: string(body)}
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
	n := strings.Count(d.s, `"method"`)
	cmds = make([]Command, 0, n)
	d.params = make([]PublishParams, 0, n)
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
	b      []byte
	s      string // b as a string: decoded strings are slices of it
	i      int
	params []PublishParams // room for publish params, taken in order
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

// open reads the '{' of an object.
func (d *fastDecoder) open() bool {
	d.space()
	return d.next() == '{'
}

// key reads the next key of an object and its colon, leaving d.i at the
// value. end is set, with no key, at the object's closing brace; ok is false
// when the key is not plain. The key is a view into the body.
func (d *fastDecoder) key() (key []byte, end, ok bool) {
	d.space()
	switch d.peek() {
	case '}':
		d.i++
		return nil, true, true
	case ',':
		d.i++
		d.space()
	}
	key, ok = d.plainBytes()
	if !ok {
		return nil, false, false
	}
	d.space()
	d.i++ // ':'
	d.space()
	return key, false, true
}

// plainBytes reads a string without escapes, as a view into the body.
func (d *fastDecoder) plainBytes() ([]byte, bool) {
	if d.peek() != '"' {
		return nil, false
	}
	start := d.i + 1
	for j := start; j < len(d.b); j++ {
		switch d.b[j] {
		case '\\':
			return nil, false
		case '"':
			d.i = j + 1
			return d.b[start:j], true
		}
	}
	return nil, false
}

// stringField reads a string value into *dst as encoding/json would: null
// leaves it as it is; any other type is not for the fast path.
func (d *fastDecoder) stringField(dst *string) bool {
	if d.peek() == 'n' {
		d.i += len("null")
		return true
	}
	start := d.i + 1
	b, ok := d.plainBytes()
	if ok {
		*dst = d.s[start : start+len(b)]
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
func foldsTo(key []byte, names ...string) bool {
	for _, c := range key {
		if c >= 0x80 {
			return true
		}
	}
	for _, n := range names {
		if len(key) == len(n) && strings.EqualFold(string(key), n) {
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
		paramsAt  int
		hasParams bool
	)
	if !d.open() {
		return cmd, false
	}
	for {
		key, end, ok := d.key()
		switch {
		case !ok:
			return cmd, false
		case end:
			return d.finish(cmd, params, paramsAt, hasParams)
		}
		switch string(key) {
		case "uid":
			ok = d.stringField(&cmd.UID)
		case "method":
			ok = d.methodField(&cmd.Method)
		case "params":
			paramsAt = d.i
			params, hasParams = d.raw(), true
		default:
			ok = !foldsTo(key, "uid", "method", "params")
			d.raw()
		}
		if !ok {
			return cmd, false
		}
	}
}

// finish decodes the params of a command whose envelope was read.
func (d *fastDecoder) finish(cmd Command, params []byte, at int, hasParams bool) (Command, bool) {
	if cmd.Method == MethodPublish && hasParams {
		end := at + len(params)
		pd := fastDecoder{b: d.b[:end], s: d.s[:end], i: at}
		if p, ok := pd.publishParams(d.newParams()); ok {
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

// newParams returns room for one command's publish params.
func (d *fastDecoder) newParams() *PublishParams {
	if len(d.params) == cap(d.params) {
		return &PublishParams{}
	}
	d.params = d.params[:len(d.params)+1]
	return &d.params[len(d.params)-1]
}

// publishParams decodes plain publish params at d.i into p.
func (d *fastDecoder) publishParams(p *PublishParams) (*PublishParams, bool) {
	if !d.open() {
		return nil, false
	}
	for {
		key, end, ok := d.key()
		switch {
		case !ok:
			return nil, false
		case end:
			if p.Channel == "" || len(p.Data) == 0 {
				return nil, false
			}
			return p, true
		}
		switch string(key) {
		case "channel":
			ok = d.stringField(&p.Channel)
		case "client":
			ok = d.stringField(&p.Client)
		case "uid":
			ok = d.stringField(&p.UID)
		case "data":
			p.Data = d.raw()
		default:
			ok = !foldsTo(key, "channel", "client", "uid", "data")
			d.raw()
		}
		if !ok {
			return nil, false
		}
	}
}

// methodField is stringField for the method name: a known name is its
// constant, not a copy of its own.
func (d *fastDecoder) methodField(dst *string) bool {
	if d.peek() == 'n' {
		d.i += len("null")
		return true
	}
	start := d.i + 1
	b, ok := d.plainBytes()
	if !ok {
		return false
	}
	switch string(b) {
	case MethodPublish:
		*dst = MethodPublish
	case MethodBroadcast:
		*dst = MethodBroadcast
	case MethodHistory:
		*dst = MethodHistory
	case MethodPresence:
		*dst = MethodPresence
	default:
		*dst = d.s[start : start+len(b)]
	}
	return true
}
