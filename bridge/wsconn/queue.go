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
	_, ok := c.SendSeq(frame)
	return ok
}

// SendSeq is Send that also returns the frame's place among the frames
// queued on the connection: 1 for the first, 0 when it was not queued.
// Once OnWritten's callback reports a count of at least that number, the
// frame has been written to the socket.
func (c *Conn) SendSeq(frame []byte) (uint64, bool) {
	c.mu.Lock()
	if c.state != stateOpen {
		c.mu.Unlock()
		return 0, false
	}
	waiting := len(c.queue) + c.inflight
	if waiting >= c.queueSize || (waiting > 0 && c.pendingBytes+c.inflightBytes+len(frame) > c.queueBytes) {
		c.beginCloseLocked(closeOrder{kind: closeDrop, code: websocket.StatusPolicyViolation, reason: ReasonSlowConsumer})
		c.mu.Unlock()
		c.metrics.slow.Inc()
		c.log.Info("websocket closed", "reason", ReasonSlowConsumer, "queued_frames", waiting)
		return 0, false
	}
	if c.queue == nil && c.spare != nil {
		c.queue, c.spare = c.spare, nil
	}
	c.queue = append(c.queue, frame)
	c.pendingBytes += len(frame)
	c.queued++
	seq := c.queued
	if !c.writing {
		// The queue went from empty to non-empty: start a writer. It exits
		// once the queue is drained, so idle sockets hold no goroutine.
		c.writing = true
		go c.writeLoop()
	}
	c.mu.Unlock()
	return seq, true
}

// OnWritten has f called, by the writer, after each successful write with
// the number of frames written to the socket so far (SendSeq numbers up
// to it are out). f must not block and must not call Send. Set it before
// the first Send.
func (c *Conn) OnWritten(f func(written uint64)) {
	c.mu.Lock()
	c.onWritten = f
	c.mu.Unlock()
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
		if err == nil {
			c.written += uint64(len(frames))
		}
		written, onWritten := c.written, c.onWritten
		c.mu.Unlock()
		if err != nil {
			c.writeFailed(err)
			return
		}
		if onWritten != nil {
			onWritten(written)
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
