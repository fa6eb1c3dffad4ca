package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// wsClient is the load generator's own websocket client (RFC 6455, client
// side only, no extensions). The bench opens tens of thousands of sockets
// on the same two cores as the server; a general-purpose client (an
// http.Transport per handshake, two goroutines and 8 KiB of buffers per
// socket) would cost more CPU than the server it measures and cap the
// set-up rate it reports. This one dials, writes the handshake and reads the
// answer itself, writes several frames in one system call, and keeps one
// goroutine and a small read buffer per socket.
type wsClient struct {
	conn net.Conn
	br   *bufio.Reader
	wmu  sync.Mutex // pong and close frames from the reader vs. writes
	msg  []byte     // the message being read (reused)
}

const (
	// wsReadBuf sizes a client's read buffer; larger frames are read
	// through.
	wsReadBuf = 2048
	// wsReadLimit bounds one received message; events of the bench are
	// small.
	wsReadLimit = 1 << 20
	// maxPooledBuf: a client does not keep the buffer of an odd message
	// larger than this.
	maxPooledBuf = 64 << 10
)

// dialWS opens a websocket at rawURL (ws:// only: the bench stays on
// loopback) with the extra request headers h.
func dialWS(ctx context.Context, rawURL string, h http.Header) (*wsClient, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "ws" {
		return nil, fmt.Errorf("%s: only ws:// is supported", rawURL)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	var key [16]byte
	rand.Read(key[:])
	k := base64.StdEncoding.EncodeToString(key[:])
	var req bytes.Buffer
	path := u.EscapedPath()
	if u.RawQuery != "" {
		path += "?" + u.RawQuery
	}
	fmt.Fprintf(&req, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n", path, u.Host, k)
	for name, vs := range h {
		for _, v := range vs {
			fmt.Fprintf(&req, "%s: %s\r\n", name, v)
		}
	}
	req.WriteString("\r\n")
	if _, err := conn.Write(req.Bytes()); err != nil {
		conn.Close()
		return nil, err
	}
	c := &wsClient{conn: conn, br: bufio.NewReaderSize(conn, wsReadBuf)}
	if err := c.readHandshake(k); err != nil {
		conn.Close()
		return nil, err
	}
	conn.SetDeadline(time.Time{})
	return c, nil
}

// readHandshake checks the server's 101 answer.
func (c *wsClient) readHandshake(key string) error {
	status, err := c.br.ReadString('\n')
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	if !strings.HasPrefix(status, "HTTP/1.1 101") {
		return fmt.Errorf("handshake: %s", strings.TrimSpace(status))
	}
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	want := base64.StdEncoding.EncodeToString(sum[:])
	accepted := false
	for {
		line, err := c.br.ReadString('\n')
		if err != nil {
			return fmt.Errorf("handshake: %w", err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		name, value, _ := strings.Cut(line, ":")
		if strings.EqualFold(name, "Sec-WebSocket-Accept") && strings.TrimSpace(value) == want {
			accepted = true
		}
	}
	if !accepted {
		return errors.New("handshake: missing or wrong Sec-WebSocket-Accept")
	}
	return nil
}

// write sends each message as one masked text frame, all in one write.
func (c *wsClient) write(ctx context.Context, msgs ...string) error {
	var b []byte
	for _, m := range msgs {
		b = appendClientFrame(b, 0x1, []byte(m))
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if dl, ok := ctx.Deadline(); ok {
		c.conn.SetWriteDeadline(dl)
		defer c.conn.SetWriteDeadline(time.Time{})
	}
	_, err := c.conn.Write(b)
	return err
}

// appendClientFrame appends a final frame of opcode op with a fresh mask.
func appendClientFrame(b []byte, op byte, payload []byte) []byte {
	b = append(b, 0x80|op)
	switch n := len(payload); {
	case n <= 125:
		b = append(b, 0x80|byte(n))
	case n <= 0xFFFF:
		b = binary.BigEndian.AppendUint16(append(b, 0x80|126), uint16(n))
	default:
		b = binary.BigEndian.AppendUint64(append(b, 0x80|127), uint64(n))
	}
	var mask [4]byte
	rand.Read(mask[:])
	b = append(b, mask[:]...)
	start := len(b)
	b = append(b, payload...)
	for i := range payload {
		b[start+i] ^= mask[i%4]
	}
	return b
}

// next returns the next data message; the slice is valid until the next
// call. Pings are answered, pongs skipped; a close frame is answered and
// ends the connection with a websocket.CloseError.
func (c *wsClient) next() ([]byte, error) {
	c.msg = c.msg[:0]
	for {
		var hdr [2]byte
		if _, err := io.ReadFull(c.br, hdr[:]); err != nil {
			return nil, err
		}
		fin, op, masked := hdr[0]&0x80 != 0, hdr[0]&0x0F, hdr[1]&0x80 != 0
		if masked {
			return nil, errors.New("websocket: masked frame from the server")
		}
		n := uint64(hdr[1] & 0x7F)
		switch n {
		case 126:
			var ext [2]byte
			if _, err := io.ReadFull(c.br, ext[:]); err != nil {
				return nil, err
			}
			n = uint64(binary.BigEndian.Uint16(ext[:]))
		case 127:
			var ext [8]byte
			if _, err := io.ReadFull(c.br, ext[:]); err != nil {
				return nil, err
			}
			n = binary.BigEndian.Uint64(ext[:])
		}
		if n > wsReadLimit || uint64(len(c.msg))+n > wsReadLimit {
			return nil, fmt.Errorf("websocket: message over %d bytes", wsReadLimit)
		}
		if op >= 0x8 { // control frame: at most 125 bytes, never fragmented
			var p [125]byte
			if n > 125 {
				return nil, errors.New("websocket: control frame over 125 bytes")
			}
			if _, err := io.ReadFull(c.br, p[:n]); err != nil {
				return nil, err
			}
			switch op {
			case 0x9: // ping
				c.control(0xA, p[:n])
			case 0x8: // close: echo the code, then hang up
				c.control(0x8, p[:min(n, 2)])
				c.conn.Close()
				ce := websocket.CloseError{Code: websocket.StatusNoStatusRcvd}
				if n >= 2 {
					ce.Code = websocket.StatusCode(binary.BigEndian.Uint16(p[:2]))
					ce.Reason = string(p[2:n])
				}
				return nil, ce
			}
			continue
		}
		start := len(c.msg)
		c.msg = slices.Grow(c.msg, int(n))[:start+int(n)]
		if _, err := io.ReadFull(c.br, c.msg[start:]); err != nil {
			return nil, err
		}
		if fin {
			return c.msg, nil
		}
	}
}

// control writes a control frame, best effort.
func (c *wsClient) control(op byte, payload []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.conn.SetWriteDeadline(time.Now().Add(time.Second))
	c.conn.Write(appendClientFrame(nil, op, payload))
	c.conn.SetWriteDeadline(time.Time{})
}

// readUntil reads messages until one contains marker, handing the others
// to t; it gives up when ctx ends.
func (c *wsClient) readUntil(ctx context.Context, marker []byte, t *tally) error {
	if dl, ok := ctx.Deadline(); ok {
		c.conn.SetReadDeadline(dl)
		defer c.conn.SetReadDeadline(time.Time{})
	}
	for {
		b, err := c.next()
		if err != nil {
			return err
		}
		if bytes.Contains(b, marker) {
			return nil
		}
		t.frame(b, time.Now())
	}
}

// start reads every later message into t on a goroutine of its own and
// returns the client handle.
func (c *wsClient) start(t *tally) *client {
	cl := &client{done: make(chan struct{})}
	cl.stop = func() {
		t.stopping.Store(true)
		c.conn.Close()
	}
	go func() {
		defer close(cl.done)
		for {
			b, err := c.next()
			if err != nil {
				t.end(err)
				return
			}
			t.frame(b, time.Now())
			if cap(c.msg) > maxPooledBuf {
				c.msg = nil // an odd huge message: do not keep its buffer
			}
		}
	}()
	return cl
}
