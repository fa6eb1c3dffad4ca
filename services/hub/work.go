package hub

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// The engine calls HandleEvent and HandleControl on its delivery path (on
// Redis: the one pub/sub reader of the node), so neither may wait for the
// engine: one slow Redis call there would hold back every event of the
// node. What a control order needs from the engine — leaving presence and
// announcing the leave — is recorded on the session (pendingWork) and
// carried out by the hub's workers. The session's next join, leave or
// close carries it out first if no worker got to it yet, so a full queue
// delays the work but never loses it, and a later join can never be undone
// by an earlier order.

// Worker pool limits.
const (
	workQueueSize = 4096             // sessions waiting for a worker
	workWorkers   = 2                // goroutines carrying out the work
	workTimeout   = 10 * time.Second // engine calls of one session's work
)

var deferredWorkTotal = promauto.NewCounter(prometheus.CounterOpts{
	Name: "switchboard_hub_deferred_work_total",
	Help: "Sessions whose control-order work waited for their next join, leave or close because the hub's work queue was full.",
})

// pendingWork is what control orders left for a session.
type pendingWork struct {
	// run serializes the session's presence changes (join, leave, close,
	// pending work). Only RPC handlers and workers take it, never the
	// delivery path.
	run sync.Mutex

	mu     sync.Mutex // guards the fields below; never held across a call
	all    bool       // leave every joined channel
	leave  []string   // channels to leave
	queued bool       // on the work queue
}

// addLeave records channels to leave ("" = all); it reports whether the
// session still needs to be queued.
func (p *pendingWork) addLeave(channel string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if channel == "" {
		p.all, p.leave = true, nil
	} else if !p.all {
		p.leave = append(p.leave, channel)
	}
	if p.queued {
		return false
	}
	p.queued = true
	return true
}

// take returns and clears the pending leaves: nil channels with all set
// means every joined channel.
func (p *pendingWork) take() (all bool, channels []string, any bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	all, channels = p.all, p.leave
	any = all || len(channels) > 0
	p.all, p.leave, p.queued = false, nil, false
	return all, channels, any
}

// unqueue marks the session as not queued (the queue was full).
func (p *pendingWork) unqueue() {
	p.mu.Lock()
	p.queued = false
	p.mu.Unlock()
}

// workers carry out pending session work off the delivery path.
type workers struct {
	queue chan *session
	stop  chan struct{}
	once  sync.Once
	wg    sync.WaitGroup
}

func newWorkers() *workers {
	return &workers{queue: make(chan *session, workQueueSize), stop: make(chan struct{})}
}

// start runs the workers; call once.
func (w *workers) start(h *Hub) {
	for range workWorkers {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			for {
				select {
				case s := <-w.queue:
					h.settleQueued(s)
				case <-w.stop:
					// Finish what is queued, then end.
					for {
						select {
						case s := <-w.queue:
							h.settleQueued(s)
						default:
							return
						}
					}
				}
			}
		}()
	}
}

// stopAndWait ends the workers once the queued work is done.
func (w *workers) stopAndWait() {
	w.once.Do(func() { close(w.stop) })
	w.wg.Wait()
}

// deferLeave records that s must leave channel ("" = all) and queues s for
// a worker. It never blocks: it is called on the delivery path.
func (h *Hub) deferLeave(s *session, channel string) {
	if !s.pend.addLeave(channel) {
		return
	}
	select {
	case h.work.queue <- s:
	default:
		s.pend.unqueue()
		deferredWorkTotal.Inc()
		h.log.Warn("work queue full: the session leaves at its next join, leave or close", "session", s.info.Id)
	}
}

// settleQueued is a worker's turn on s.
func (h *Hub) settleQueued(s *session) {
	ctx, cancel := context.WithTimeout(context.Background(), workTimeout)
	defer cancel()
	s.pend.run.Lock()
	defer s.pend.run.Unlock()
	h.settleLocked(ctx, s)
}

// settleLocked carries out the session's pending leaves; callers hold
// s.pend.run.
func (h *Hub) settleLocked(ctx context.Context, s *session) {
	all, channels, any := s.pend.take()
	if !any {
		return
	}
	if all {
		channels = nil
	}
	if err := h.leaveLocked(ctx, s, channels); err != nil {
		h.log.Warn("leave on unsubscribe failed", "session", s.info.Id, "err", err)
	}
}
