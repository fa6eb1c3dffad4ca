package bench

import (
	"bytes"
	"math"
	"strconv"
)

// The payload every published message carries: the publisher's wall clock
// when it sent the message and the message's sequence number. Faces wrap it
// in their own envelope; some (cppcomet, rest) carry it as a JSON string, so
// the scanner accepts the keys quoted plainly or with escaped quotes.
var (
	keyTS  = []byte("ts")
	keySeq = []byte("seq")
)

// appendPayload appends {"ts":<unix nanos>,"seq":<seq>} and, with pad > 0,
// a "pad" string of that many bytes, so message size can be varied.
func appendPayload(dst []byte, ts, seq int64, pad int) []byte {
	dst = append(dst, `{"ts":`...)
	dst = strconv.AppendInt(dst, ts, 10)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendInt(dst, seq, 10)
	if pad > 0 {
		dst = append(dst, `,"pad":"`...)
		for range pad {
			dst = append(dst, 'x')
		}
		dst = append(dst, '"')
	}
	return append(dst, '}')
}

// parseStamp finds the stamp in a received frame without decoding it. ok is
// false for frames that carry none (acks, heartbeats, greetings).
func parseStamp(frame []byte) (ts, seq int64, ok bool) {
	ts, ok = findInt(frame, keyTS)
	if !ok {
		return 0, 0, false
	}
	seq, ok = findInt(frame, keySeq)
	return ts, seq, ok
}

// findInt returns the non-negative integer value of the first key name in
// b: the name must be quoted ("name" or \"name\"), followed by a colon and
// at least one digit.
func findInt(b, name []byte) (int64, bool) {
	off := 0
	for {
		i := bytes.Index(b[off:], name)
		if i < 0 {
			return 0, false
		}
		i += off
		off = i + len(name)
		if i == 0 || b[i-1] != '"' {
			continue
		}
		j := off
		if j < len(b) && b[j] == '\\' {
			j++
		}
		if j >= len(b) || b[j] != '"' {
			continue
		}
		j = skipSpace(b, j+1)
		if j >= len(b) || b[j] != ':' {
			continue
		}
		j = skipSpace(b, j+1)
		v, ok := parseDigits(b[j:])
		if !ok {
			continue
		}
		return v, true
	}
}

func skipSpace(b []byte, j int) int {
	for j < len(b) && (b[j] == ' ' || b[j] == '\t' || b[j] == '\n' || b[j] == '\r') {
		j++
	}
	return j
}

// parseDigits reads the decimal number at the start of b; ok is false when
// there is none or it does not fit an int64.
func parseDigits(b []byte) (int64, bool) {
	var v int64
	n := 0
	for ; n < len(b) && b[n] >= '0' && b[n] <= '9'; n++ {
		d := int64(b[n] - '0')
		if v > (math.MaxInt64-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, n > 0
}
