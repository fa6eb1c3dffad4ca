package wsconn

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Data frames bypass the websocket library's writer: a server frame is a
// header of 2 to 10 bytes and the payload unmasked, so the payload shared by
// every socket goes to the kernel as it is, and every frame queued for a
// socket leaves in one writev — one system call per burst instead of one
// per frame. The library still does the handshake, reads (pings, pongs and
// close frames included) and writes its own control frames; rawConn's write
// lock keeps those whole and in order with the data.

// Buffer sizes handed to the library in place of net/http's 4 KiB pair,
// which an idle connection would otherwise hold for its whole life.
const (
	// readBufSize buffers client frames; larger ones are read straight
	// through.
	readBufSize = 512
	// controlBufSize holds one whole control frame (at most 2+4+125 bytes),
	// so that the library's flush of a control frame is one Write.
	controlBufSize = 256
)

// maxFrameHeader is the longest server frame header: 2 bytes and a 64-bit
// length, no mask.
const maxFrameHeader = 10

// rawConn is the hijacked connection as the library sees it. Every write —
// the library's control frames and this package's data frames — takes wmu
// and runs under a deadline (armLocked), so a peer that stopped reading
// cannot hold a writer longer than the write timeout.
type rawConn struct {
	net.Conn
	timeout time.Duration

	// pending holds bytes the HTTP server had read past the handshake;
	// Read returns them first. Only the library's reader calls Read.
	pending []byte

	wmu      sync.Mutex
	deadline time.Time // the write deadline last set, under wmu

	// frames follows the client's frames for the message timeout
	// (partial.go). Only the library's reader touches it.
	frames frameTracker
}

// armLocked makes sure a write starting now has at least half the write
// timeout to finish. The deadline is moved only when less than that is
// left, so that most writes skip the poller's timer update: a peer that
// stops reading is still cut off within one write timeout.
func (c *rawConn) armLocked() error {
	now := time.Now()
	if c.deadline.Sub(now) > c.timeout/2 {
		return nil
	}
	c.deadline = now.Add(c.timeout)
	return c.Conn.SetWriteDeadline(c.deadline)
}

// SetWriteDeadline and SetDeadline replace the armed deadline; the next
// write arms a fresh one.
func (c *rawConn) SetWriteDeadline(t time.Time) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.deadline = time.Time{}
	return c.Conn.SetWriteDeadline(t)
}

func (c *rawConn) SetDeadline(t time.Time) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.deadline = time.Time{}
	return c.Conn.SetDeadline(t)
}

func (c *rawConn) Read(p []byte) (int, error) {
	var n int
	var err error
	if len(c.pending) > 0 {
		n = copy(p, c.pending)
		c.pending = c.pending[n:]
		if len(c.pending) == 0 {
			c.pending = nil
		}
	} else if f := &c.frames; f.armed {
		// A message is unfinished: this wait for the client counts
		// against what is left of its time. Only waits count, not the
		// time the face takes between reads, so a socket whose reader
		// is slow (a face that rate-limits its commands) is not cut off
		// for a message whose rest has long arrived.
		start := time.Now()
		_ = c.Conn.SetReadDeadline(start.Add(f.budget))
		n, err = c.Conn.Read(p)
		f.budget -= time.Since(start)
	} else {
		n, err = c.Conn.Read(p)
	}
	if n > 0 && c.frames.timeout > 0 {
		c.followFrames(p[:n])
	}
	return n, err
}

// followFrames gives an unfinished client message the message timeout
// (spent by Read's waits for the rest) and clears the read deadline when
// the message is complete (partial.go).
func (c *rawConn) followFrames(p []byte) {
	f := &c.frames
	switch mid := f.observe(p); {
	case mid && !f.armed:
		f.armed = true
		f.budget = f.timeout
	case !mid && f.armed:
		f.armed = false
		_ = c.Conn.SetReadDeadline(time.Time{})
	}
}

func (c *rawConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.armLocked(); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

// batch is the scratch space of one write of queued frames.
type batch struct {
	headers []byte
	iov     net.Buffers
	flat    []byte // for connections without writev (TLS)
}

var batches = sync.Pool{New: func() any { return new(batch) }}

// maxFlat bounds the copy buffer kept in the pool.
const maxFlat = 256 << 10

// writeFrames writes frames as data frames of type typ, in order, in one
// system call where the connection allows it.
func (c *rawConn) writeFrames(typ websocket.MessageType, frames [][]byte) error {
	b := batches.Get().(*batch)
	defer func() {
		clear(b.iov[:cap(b.iov)])
		b.iov = b.iov[:0]
		if cap(b.flat) > maxFlat {
			b.flat = nil
		}
		batches.Put(b)
	}()
	opcode := byte(0x1) // text
	if typ == websocket.MessageBinary {
		opcode = 0x2
	}
	b.headers = b.headers[:0]
	if cap(b.headers) < len(frames)*maxFrameHeader {
		// Grown once up front: the iovecs below point into it.
		b.headers = make([]byte, 0, len(frames)*maxFrameHeader)
	}
	b.iov = b.iov[:0]
	for _, f := range frames {
		start := len(b.headers)
		b.headers = appendHeader(b.headers, opcode, len(f))
		b.iov = append(b.iov, b.headers[start:len(b.headers):len(b.headers)])
		if len(f) > 0 {
			b.iov = append(b.iov, f)
		}
	}

	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.armLocked(); err != nil {
		return err
	}
	switch c.Conn.(type) {
	case *net.TCPConn, *net.UnixConn:
		// net.Buffers uses writev on these.
		iov := b.iov
		_, err := iov.WriteTo(c.Conn)
		return err
	default:
		// A TLS connection would make one record per buffer: copy instead.
		flat := b.flat[:0]
		for _, p := range b.iov {
			flat = append(flat, p...)
		}
		b.flat = flat
		_, err := c.Conn.Write(flat)
		return err
	}
}

// appendHeader appends a final, unmasked frame header (RFC 6455 §5.2).
func appendHeader(dst []byte, opcode byte, n int) []byte {
	dst = append(dst, 0x80|opcode)
	switch {
	case n <= 125:
		return append(dst, byte(n))
	case n <= 0xFFFF:
		return binary.BigEndian.AppendUint16(append(dst, 126), uint16(n))
	default:
		return binary.BigEndian.AppendUint64(append(dst, 127), uint64(n))
	}
}

// hijackWriter hands the library a rawConn and small buffers when it
// hijacks the connection.
type hijackWriter struct {
	http.ResponseWriter
	timeout        time.Duration
	messageTimeout time.Duration
	raw            *rawConn
}

func (w *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	// The 101 response has been flushed by net/http; what its reader holds
	// past the request are the client's first frames.
	var pending []byte
	if n := brw.Reader.Buffered(); n > 0 {
		b, err := brw.Reader.Peek(n)
		if err != nil {
			nc.Close()
			return nil, nil, fmt.Errorf("wsconn: hijack: %w", err)
		}
		pending = append([]byte(nil), b...)
	}
	w.raw = &rawConn{Conn: nc, timeout: w.timeout, pending: pending}
	w.raw.frames.timeout = w.messageTimeout
	return w.raw, bufio.NewReadWriter(bufio.NewReaderSize(w.raw, readBufSize), bufio.NewWriterSize(w.raw, controlBufSize)), nil
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *hijackWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
