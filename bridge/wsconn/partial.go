package wsconn

import (
	"encoding/binary"
	"time"
)

// A socket may stay silent between messages for as long as it likes (the
// faces have no idle limit), but once a client message has begun the whole
// of it must arrive within the message timeout. Otherwise a client could
// hold a socket, its read buffer and its goroutine by sending half a frame
// and stopping, which no write deadline or queue bound would ever notice.
//
// rawConn sees every byte the library reads, so it follows the client's
// frames itself (RFC 6455 §5.2; client frames are always masked): when a
// read leaves a message unfinished — a header, a payload or a fragmented
// message only partly received — every later wait in Read for its rest
// runs under a read deadline, so that the waits together take at most the
// timeout; the deadline is cleared once the message is complete. Time the
// face spends between reads does not count (the rest of the message may be
// waiting in the socket's buffer all along). Complete messages read in one
// go never touch the timer.

// frameTracker follows client frame boundaries in the read stream.
type frameTracker struct {
	timeout time.Duration // 0: no message timeout

	hdr  [14]byte // the current frame header, as far as received
	hn   int      // header bytes received
	need int      // header length once hdr[1] is known; 0 before
	left uint64   // payload bytes of the current frame still to come
	// fragmented: a data frame without FIN was completed; the message
	// goes on until a final continuation frame.
	fragmented bool
	armed      bool
	// budget is what is left of the timeout for the unfinished message:
	// the time Read may still wait for its rest.
	budget time.Duration
}

// observe follows the bytes of one read. It reports whether a message is
// left unfinished.
func (f *frameTracker) observe(p []byte) (mid bool) {
	for len(p) > 0 {
		if f.left > 0 {
			n := uint64(len(p))
			if n > f.left {
				n = f.left
			}
			f.left -= n
			p = p[n:]
			continue
		}
		// A header byte.
		f.hdr[f.hn] = p[0]
		f.hn++
		p = p[1:]
		if f.hn == 2 {
			f.need = 2 + 4*int(f.hdr[1]>>7) // mask key when the mask bit is set
			switch f.hdr[1] & 0x7f {
			case 126:
				f.need += 2
			case 127:
				f.need += 8
			}
		}
		if f.hn < 2 || f.hn < f.need {
			continue
		}
		f.endHeader()
	}
	return f.hn > 0 || f.left > 0 || f.fragmented
}

// endHeader starts the payload of a frame whose header is complete.
func (f *frameTracker) endHeader() {
	fin := f.hdr[0]&0x80 != 0
	opcode := f.hdr[0] & 0x0f
	switch n := f.hdr[1] & 0x7f; n {
	case 126:
		f.left = uint64(binary.BigEndian.Uint16(f.hdr[2:4]))
	case 127:
		f.left = binary.BigEndian.Uint64(f.hdr[2:10])
	default:
		f.left = uint64(n)
	}
	if opcode < 0x8 { // a data or continuation frame; control frames do not end messages
		f.fragmented = !fin
	}
	f.hn, f.need = 0, 0
}
