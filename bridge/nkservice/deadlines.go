package nkservice

import (
	"sync"
	"sync/atomic"
	"time"
)

// Server requests and their deadlines, server pings and the idle timeout
// (nkservice.md §1, §3.1, §3.4).
//
// Each request the server sends (event, ping, relayed command) must get a
// reply or an ack within the reply timeout, and after each ack within the
// ack timeout; otherwise the connection is closed. The time is counted from
// when the request's frame was written to the socket, not from when it was
// queued: a request that waits behind others in the socket's queue has not
// reached the client yet.

// pending is a server request waiting for the client's answer.
type pending struct {
	// deadline is zero until the frame has been written.
	deadline time.Time
	onReply  func(Frame)
}

// unwritten is a request whose frame is queued but not yet written.
type unwritten struct {
	tid, seq uint64
}

// outstanding are the server requests of one socket that the client has
// not answered. One timer per socket, armed for the earliest deadline.
type outstanding struct {
	op, ack time.Duration
	max     int
	expire  func()

	mu      sync.Mutex
	next    uint64 // the last tid issued
	m       map[uint64]*pending
	queue   []unwritten // in frame order: tids are issued and queued under mu
	written uint64      // frames of the socket written so far
	timer   *time.Timer
	armedAt time.Time // deadline the timer is armed for; zero when idle
	stopped bool
}

// issue sends one server request: it takes the next tid, makes the frame
// with it and queues the frame with send, in one step, so that tids and the
// socket's frame numbers (wsconn.Conn.SendSeq) rise together. full reports
// that max requests are unanswered already (nothing sent); sent is false
// when the socket did not take the frame.
func (o *outstanding) issue(onReply func(Frame), frame func(tid uint64) []byte, send func([]byte) (uint64, bool)) (sent, full bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.stopped {
		return false, false
	}
	if o.m == nil {
		o.m = map[uint64]*pending{}
	}
	if len(o.m) >= o.max {
		return false, true
	}
	o.next++
	tid := o.next
	seq, ok := send(frame(tid))
	if !ok {
		return false, false
	}
	p := &pending{onReply: onReply}
	o.m[tid] = p
	if seq <= o.written {
		// Written already (the writer reported it before we got here).
		p.deadline = time.Now().Add(o.op)
		o.armLocked(p.deadline)
	} else {
		o.queue = append(o.queue, unwritten{tid: tid, seq: seq})
	}
	return true, false
}

// wrote is the socket's writer reporting n frames written so far: the
// deadlines of the requests among them start now.
func (o *outstanding) wrote(n uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if n <= o.written {
		return
	}
	o.written = n
	k := 0
	var now time.Time
	for ; k < len(o.queue) && o.queue[k].seq <= n; k++ {
		p := o.m[o.queue[k].tid]
		if p == nil || !p.deadline.IsZero() {
			continue // answered (or acked) before it was written
		}
		if now.IsZero() {
			now = time.Now()
			o.armLocked(now.Add(o.op))
		}
		p.deadline = now.Add(o.op)
	}
	if k == 0 {
		return
	}
	if k == len(o.queue) {
		o.queue = o.queue[:0]
		return
	}
	o.queue = o.queue[k:]
}

// armLocked makes sure the timer fires by d.
func (o *outstanding) armLocked(d time.Time) {
	if o.stopped || (!o.armedAt.IsZero() && !o.armedAt.After(d)) {
		return
	}
	o.armedAt = d
	wait := time.Until(d)
	if o.timer == nil {
		o.timer = time.AfterFunc(wait, o.check)
		return
	}
	o.timer.Reset(wait)
}

func (o *outstanding) answered(tid uint64) *pending {
	o.mu.Lock()
	defer o.mu.Unlock()
	p := o.m[tid]
	delete(o.m, tid)
	return p
}

func (o *outstanding) acked(tid uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if p := o.m[tid]; p != nil {
		p.deadline = time.Now().Add(o.ack)
		o.armLocked(p.deadline)
	}
}

// check runs when the timer fires: a request past its deadline closes the
// socket; otherwise the timer is armed for the next deadline.
func (o *outstanding) check() {
	o.mu.Lock()
	o.armedAt = time.Time{}
	now := time.Now()
	var first time.Time
	expired := false
	for _, p := range o.m {
		if p.deadline.IsZero() {
			continue // not written yet: its deadline has not started
		}
		if !p.deadline.After(now) {
			expired = true
			break
		}
		if first.IsZero() || p.deadline.Before(first) {
			first = p.deadline
		}
	}
	if !expired && !first.IsZero() {
		o.armLocked(first)
	}
	o.mu.Unlock()
	if expired {
		o.expire()
	}
}

// stop ends the deadlines and returns the requests left unanswered.
func (o *outstanding) stop() []*pending {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.stopped = true
	if o.timer != nil {
		o.timer.Stop()
	}
	left := make([]*pending, 0, len(o.m))
	for _, p := range o.m {
		left = append(left, p)
	}
	o.m, o.queue = nil, nil
	return left
}

// monoStart is the origin of activity times: time.Since(monoStart) reads
// the monotonic clock.
var monoStart = time.Now()

// idleTimer closes a socket that neither received nor was written a frame
// for the idle timeout (api_server_timeout: nkpacket restarts its idle
// timer on every message in and out). Activity is one atomic store; the
// timer looks at it only when it fires.
type idleTimer struct {
	limit  time.Duration
	last   atomic.Int64 // time.Since(monoStart) of the last activity
	timer  *time.Timer
	expire func()

	mu      sync.Mutex
	stopped bool
}

// start arms the timer; a limit of zero or less means no idle timeout.
func (t *idleTimer) start(limit time.Duration, expire func()) {
	if limit <= 0 {
		return
	}
	t.limit, t.expire = limit, expire
	t.touch()
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.stopped {
		t.timer = time.AfterFunc(limit, t.check)
	}
}

// touch records activity.
func (t *idleTimer) touch() { t.last.Store(int64(time.Since(monoStart))) }

func (t *idleTimer) check() {
	quiet := time.Since(monoStart) - time.Duration(t.last.Load())
	if quiet >= t.limit {
		t.expire()
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.stopped {
		t.timer.Reset(t.limit - quiet)
	}
}

func (t *idleTimer) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stopped = true
	if t.timer != nil {
		t.timer.Stop()
	}
}

// pinger sends core/ping requests at an interval once the client logged
// in (§3.4: {"class":"core","cmd":"ping","tid":N,"data":{"time":secs}});
// as in nkservice the first goes at once. Each is a server request like
// any other: unanswered past the reply timeout, it closes the socket.
type pinger struct {
	mu      sync.Mutex
	timer   *time.Timer
	stopped bool
}

// start sends a ping now and then every interval, until stop.
func (p *pinger) start(interval time.Duration, ping func()) {
	if interval <= 0 {
		return
	}
	var tick func()
	tick = func() {
		ping()
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.stopped {
			return
		}
		if p.timer == nil {
			p.timer = time.AfterFunc(interval, tick)
			return
		}
		p.timer.Reset(interval)
	}
	tick()
}

func (p *pinger) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped = true
	if p.timer != nil {
		p.timer.Stop()
	}
}
