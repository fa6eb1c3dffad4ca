package wsconn

import (
	"context"
	"errors"
	"net"
	"os"

	"github.com/coder/websocket"
)

// Send queues frame for the socket and returns at once. The frame is not
// copied: the caller, and every other socket it was sent to, must treat it
// as read-only. Send reports false when the frame was not queued: the
// connection is closing, or the queue is full — then the socket is closed
// as a slow consumer (StatusPolicyViolation, ReasonSlowConsumer).
//
// Frames queued while the writer is busy leave together, in one system
// call, when it comes back for them.
func (c *Conn) Send(frame []byte) bool {
	c.mu.Lock()
	if c.state != stateOpen {
		c.mu.Unlock()
		return false
	}
	waiting := len(c.queue) + c.inflight
	if waiting >= c.queueSize || (waiting > 0 && c.pendingBytes+c.inflightBytes+len(frame) > c.queueBytes) {
		c.beginCloseLocked(closeOrder{kind: closeDrop, code: websocket.StatusPolicyViolation, reason: ReasonSlowConsumer})
		c.mu.Unlock()
		c.metrics.slow.Inc()
		c.log.Info("websocket closed", "reason", ReasonSlowConsumer, "queued_frames", waiting)
		return false
	}
	if c.queue == nil && c.spare != nil {
		c.queue, c.spare = c.spare, nil
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

// keepCap is the largest batch slice a socket keeps for reuse between
// writes; an idle socket keeps none.
const keepCap = 64

// writeLoop owns the write side while it runs: it writes the queued frames
// in order, a whole queue per system call, and, when the connection is
// closing, performs the close itself so that a close frame never overtakes
// a data frame.
func (c *Conn) writeLoop() {
	for {
		c.mu.Lock()
		switch {
		case c.state == stateEnded:
			c.writing = false
			c.releaseQueueLocked()
			c.mu.Unlock()
			return
		case c.state == stateClosing && c.order.kind == closeDrop:
			c.writing = false
			c.releaseQueueLocked()
			c.mu.Unlock()
			c.closeConn()
			return
		case len(c.queue) == 0:
			c.writing = false
			c.releaseQueueLocked()
			closing := c.state == stateClosing
			c.mu.Unlock()
			if closing {
				c.closeConn()
			}
			return
		}
		frames := c.queue
		c.queue, c.spare = c.spare, nil
		batchBytes := c.pendingBytes
		c.inflight, c.inflightBytes = len(frames), batchBytes
		c.pendingBytes = 0
		c.mu.Unlock()

		err := c.raw.writeFrames(c.msgType, frames)

		clear(frames) // shared frames must not be kept alive by this socket
		c.mu.Lock()
		c.inflight, c.inflightBytes = 0, 0
		if cap(frames) <= keepCap && c.spare == nil {
			c.spare = frames[:0]
		}
		c.mu.Unlock()
		if err != nil {
			c.writeFailed(err)
			return
		}
		c.metrics.framesSent.Add(float64(len(frames)))
		c.metrics.sent(batchBytes)
	}
}

// releaseQueueLocked empties the queue and drops its memory, so that an
// idle socket holds no slice.
func (c *Conn) releaseQueueLocked() {
	clear(c.queue)
	c.queue, c.spare = nil, nil
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
		if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
			reason = reasonWriteTimeout
		}
		c.log.Debug("websocket dropped", "reason", reason, "err", err)
	}
	c.ws.CloseNow()
	c.finish()
}
