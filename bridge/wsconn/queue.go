package wsconn

import (
	"context"
	"errors"
	"net"

	"github.com/coder/websocket"
)

// Send queues frame for the socket and returns at once. The frame is not
// copied: the caller, and every other socket it was sent to, must treat it
// as read-only. Send reports false when the frame was not queued: the
// connection is closing, or the queue is full — then the socket is closed
// as a slow consumer (StatusPolicyViolation, ReasonSlowConsumer).
func (c *Conn) Send(frame []byte) bool {
	c.mu.Lock()
	if c.state != stateOpen {
		c.mu.Unlock()
		return false
	}
	waiting := len(c.queue) - c.head
	if waiting >= c.queueSize || (waiting > 0 && c.pendingBytes+len(frame) > c.queueBytes) {
		c.beginCloseLocked(closeOrder{kind: closeDrop, code: websocket.StatusPolicyViolation, reason: ReasonSlowConsumer})
		c.mu.Unlock()
		c.metrics.slow.Inc()
		c.log.Info("websocket closed", "reason", ReasonSlowConsumer, "queued_frames", waiting)
		return false
	}
	if len(c.queue) == cap(c.queue) && c.head >= len(c.queue)/2 {
		// At least half the slots were written: reuse them rather than grow
		// the slice. (Compacting for fewer would copy the queue over and
		// over while the writer lags.)
		n := copy(c.queue, c.queue[c.head:])
		clear(c.queue[n:])
		c.queue = c.queue[:n]
		c.head = 0
	}
	c.queue = append(c.queue, frame)
	c.pendingBytes += len(frame)
	if !c.writing {
		// The queue went from empty to non-empty: start a writer. It exits
		// once the queue is drained, so idle sockets hold no goroutine.
		c.writing = true
		go c.writeLoop()
	}
	c.mu.Unlock()
	return true
}

// writeLoop owns the write side while it runs: it writes queued frames in
// order and, when the connection is closing, performs the close itself so
// that a close frame never overtakes a data frame.
func (c *Conn) writeLoop() {
	for {
		c.mu.Lock()
		switch {
		case c.state == stateEnded:
			c.writing = false
			c.mu.Unlock()
			return
		case c.state == stateClosing && c.order.kind == closeDrop:
			c.writing = false
			c.mu.Unlock()
			c.closeConn()
			return
		case c.head == len(c.queue):
			c.releaseQueueLocked()
			c.writing = false
			closing := c.state == stateClosing
			c.mu.Unlock()
			if closing {
				c.closeConn()
			}
			return
		}
		frame := c.queue[c.head]
		c.queue[c.head] = nil
		c.head++
		c.pendingBytes -= len(frame)
		c.mu.Unlock()

		if err := c.writeFrame(frame); err != nil {
			c.writeFailed(err)
			return
		}
		c.metrics.framesSent.Inc()
	}
}

func (c *Conn) writeFrame(frame []byte) error {
	// On timeout the library drops the connection, which is what we want
	// for a peer that stopped reading.
	ctx, cancel := context.WithTimeout(context.Background(), c.writeTimeout)
	defer cancel()
	return c.ws.Write(ctx, c.msgType, frame)
}

// releaseQueueLocked empties the queue. A large backing array is dropped so
// that a socket that once had a burst does not keep it while idle.
func (c *Conn) releaseQueueLocked() {
	const keepCap = 16
	clear(c.queue[c.head:])
	if cap(c.queue) > keepCap {
		c.queue = nil
	} else {
		c.queue = c.queue[:0]
	}
	c.head = 0
	c.pendingBytes = 0
}

func (c *Conn) writeFailed(err error) {
	c.mu.Lock()
	c.state = stateEnded
	c.writing = false
	c.releaseQueueLocked()
	c.mu.Unlock()
	if !errors.Is(err, net.ErrClosed) {
		reason := "write failed"
		if errors.Is(err, context.DeadlineExceeded) {
			reason = reasonWriteTimeout
		}
		c.log.Debug("websocket dropped", "reason", reason, "err", err)
	}
	c.ws.CloseNow()
	c.finish()
}
