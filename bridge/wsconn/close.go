package wsconn

import (
	"github.com/coder/websocket"
)

// Close reasons this package sends in close frames. Faces define their own
// for the closes they ask for.
const (
	// ReasonSlowConsumer: the socket's outbound queue overflowed.
	ReasonSlowConsumer = "slow consumer"
	// reasonWriteTimeout is only logged: a socket that cannot take a frame
	// cannot take a close frame either, so it is dropped without one.
	reasonWriteTimeout = "write timeout"
)

// connState is the life cycle of a Conn: open → closing → ended, or open →
// ended when the peer or the network ends it first.
type connState uint8

const (
	stateOpen    connState = iota
	stateClosing           // a close was asked for; Send refuses frames
	stateEnded             // the websocket is closed or being torn down
)

type closeKind uint8

const (
	closeDrop      closeKind = iota + 1 // drop queued frames, send a close frame
	closeFlush                          // write queued frames, then send a close frame
	closeFlushDrop                      // write queued frames, then drop TCP without a close frame
)

type closeOrder struct {
	kind   closeKind
	code   websocket.StatusCode
	reason string
}

// Close sends a close frame with code and reason (at most 123 bytes) and
// ends the connection. Frames still queued are dropped. It returns at once;
// Done reports the end. Only the first of Close, CloseAfterFlush and
// CloseNow has an effect.
func (c *Conn) Close(code websocket.StatusCode, reason string) {
	c.beginClose(closeOrder{kind: closeDrop, code: code, reason: reason})
}

// CloseAfterFlush writes every frame already queued, then sends a close
// frame with code and reason. It returns at once; Done reports the end.
// Use it to say goodbye: Send the last message, then CloseAfterFlush.
func (c *Conn) CloseAfterFlush(code websocket.StatusCode, reason string) {
	c.beginClose(closeOrder{kind: closeFlush, code: code, reason: reason})
}

// CloseNow drops the TCP connection without a close frame, after writing
// the frames already queued (each bounded by the write timeout). Faces whose
// protocol rejects a client by sending an error message and hanging up
// (comet-server) do exactly that: Send(message), then CloseNow. It returns
// at once; Done reports the end.
func (c *Conn) CloseNow() {
	c.beginClose(closeOrder{kind: closeFlushDrop})
}

func (c *Conn) beginClose(o closeOrder) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != stateOpen {
		return
	}
	c.beginCloseLocked(o)
}

// beginCloseLocked moves an open connection to closing. A running writer
// performs the close when it gets to it; otherwise a goroutine does it now.
func (c *Conn) beginCloseLocked(o closeOrder) {
	c.state = stateClosing
	c.order = o
	if o.kind == closeDrop {
		c.releaseQueueLocked()
	}
	if !c.writing {
		go c.closeConn()
	}
}

// closeConn runs exactly once per closing connection, in the goroutine that
// owns the write side.
func (c *Conn) closeConn() {
	c.mu.Lock()
	if c.state != stateClosing {
		c.mu.Unlock()
		return
	}
	o := c.order
	c.mu.Unlock()

	switch o.kind {
	case closeDrop, closeFlush:
		// Bounded by the library: 5 s to write the close frame, 5 s to
		// wait for the peer's.
		err := c.ws.Close(o.code, o.reason)
		if err != nil {
			c.log.Debug("websocket close handshake", "code", o.code, "reason", o.reason, "err", err)
		}
	case closeFlushDrop:
		c.ws.CloseNow()
	}
	c.finish()
}

// abort ends the connection after Read failed: the library has already
// closed it, or answered the peer's close frame. When a close of ours is
// under way its goroutine finishes the handshake; the connection counts as
// ended now all the same, since nothing more can be read.
func (c *Conn) abort() {
	c.mu.Lock()
	wasOpen := c.state == stateOpen
	c.mu.Unlock()
	if wasOpen {
		c.ws.CloseNow()
	}
	c.finish()
}

// finish marks the connection ended, once.
func (c *Conn) finish() {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return
	}
	c.ended = true
	c.state = stateEnded
	c.releaseQueueLocked()
	c.mu.Unlock()
	c.cancel()
	c.metrics.connections.Dec()
}
