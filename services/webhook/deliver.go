package webhook

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-hub/switchboard/services/engine"
)

// worker delivers one endpoint's queue, one event at a time, while this
// node holds the endpoint's lease.
type worker struct {
	s    *Service
	name string
	ep   Endpoint

	wakeCh  chan struct{}
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{}
	leaseMu sync.Mutex
	leased  time.Time // when the lease was last taken or renewed

	mu                       sync.Mutex
	delivered, retried, dead uint64
	lastError                string
	lastErrorAt              time.Time
}

func newWorker(s *Service, name string, ep Endpoint) *worker {
	w := &worker{s: s, name: name, ep: ep, wakeCh: make(chan struct{}, 1), done: make(chan struct{})}
	w.ctx, w.cancel = context.WithCancel(s.ctx)
	return w
}

// wake tells the worker that its queue has new items.
func (w *worker) wake() {
	select {
	case w.wakeCh <- struct{}{}:
	default:
	}
}

// stop ends the worker and waits for it; an attempt in flight is abandoned
// and its event stays queued.
func (w *worker) stop() {
	w.cancel()
	<-w.done
}

// leaseTTL outlasts an attempt; a node that dies holding it hands over
// after this long.
func (w *worker) leaseTTL() time.Duration { return max(3*w.s.cfg.Timeout, time.Second) }

func (w *worker) run() {
	defer w.s.wg.Done()
	defer close(w.done)
	store := w.s.cfg.Store
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = store.WebhookRelease(ctx, w.name, w.s.cfg.Node)
	}()
	poll := time.NewTicker(w.s.cfg.Poll)
	defer poll.Stop()
	for {
		held, err := store.WebhookLease(w.ctx, w.name, w.s.cfg.Node, w.leaseTTL())
		if err == nil && held {
			w.leaseMu.Lock()
			w.leased = time.Now()
			w.leaseMu.Unlock()
			if w.ep.Parallel > 1 {
				w.drainParallel()
			} else {
				w.drain()
			}
		} else if err != nil && w.ctx.Err() == nil {
			w.fail(fmt.Sprintf("queue unavailable: %v", err))
		}
		select {
		case <-w.ctx.Done():
			return
		case <-w.wakeCh:
		case <-poll.C:
		}
	}
}

// Batching of the queue: items are read this many at a time, and
// removed after at most ackEvery deliveries (and whenever delivery pauses),
// so that a busy endpoint costs few queue writes. A node that dies sends
// the unremoved ones again: delivery is at least once.
const (
	peekBatch = 64
	ackEvery  = 32
)

// drain delivers queued items until the queue is empty, the lease is lost
// or the worker stops.
func (w *worker) drain() {
	store := w.s.cfg.Store
	var done uint64 // delivered or dead-lettered, not yet removed
	pending := 0
	ack := func() bool {
		if pending == 0 {
			return true
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), w.s.cfg.Timeout)
		defer cancel()
		if err := store.WebhookAck(ctx, w.name, done); err != nil {
			w.fail(fmt.Sprintf("queue unavailable: %v", err))
			return false
		}
		pending = 0
		return true
	}
	defer ack()
	for w.ctx.Err() == nil {
		items, err := store.WebhookPeek(w.ctx, w.name, peekBatch)
		if err != nil || len(items) == 0 {
			return
		}
		for _, item := range items {
			if !w.deliver(item, ack) {
				return
			}
			done, pending = item.ID, pending+1
			if pending >= ackEvery && !ack() {
				return
			}
		}
		if !ack() {
			return
		}
	}
}

// drainParallel is drain for an endpoint that accepts Parallel deliveries
// at once: a new event starts whenever one of the Parallel slots is free,
// and what is done is removed from the queue as far as it is done from the
// head (an event still retrying holds back the removal of the ones after
// it, not their delivery; at most peekBatch events are out of the queue's
// head at once).
func (w *worker) drainParallel() {
	store := w.s.cfg.Store
	type flight struct {
		id   uint64
		done bool
	}
	var (
		mu       sync.Mutex
		window   []flight // launched and not yet removed, oldest first
		launched uint64   // the last id started
		running  int
		wg       sync.WaitGroup
		stopped  atomic.Bool
	)
	finished := make(chan struct{}, 1)
	signal := func() {
		select {
		case finished <- struct{}{}:
		default:
		}
	}
	// ack removes the done prefix of the window.
	ack := func() bool {
		mu.Lock()
		n := 0
		for n < len(window) && window[n].done {
			n++
		}
		if n == 0 {
			mu.Unlock()
			return true
		}
		id := window[n-1].id
		mu.Unlock()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), w.s.cfg.Timeout)
		defer cancel()
		if err := store.WebhookAck(ctx, w.name, id); err != nil {
			w.fail(fmt.Sprintf("queue unavailable: %v", err))
			return false
		}
		mu.Lock()
		for len(window) > 0 && window[0].id <= id {
			window = window[1:]
		}
		mu.Unlock()
		return true
	}
	defer func() {
		wg.Wait()
		ack()
	}()
	poll := time.NewTimer(w.s.cfg.Poll)
	defer poll.Stop()
	for w.ctx.Err() == nil && !stopped.Load() {
		mu.Lock()
		busy, inWindow := running, len(window)
		mu.Unlock()
		var next *engine.WebhookItem
		if busy < w.ep.Parallel && inWindow < peekBatch {
			items, err := store.WebhookPeek(w.ctx, w.name, inWindow+w.ep.Parallel)
			if err != nil {
				return
			}
			for i := range items {
				if items[i].ID > launched {
					next = &items[i]
					break
				}
			}
			if next == nil && busy == 0 {
				return // the queue is empty
			}
		}
		if next == nil {
			// Every slot is busy, or nothing new is queued: wait for a
			// delivery to end or for new events.
			if !ack() {
				return
			}
			select {
			case <-w.ctx.Done():
				return
			case <-finished:
			case <-w.wakeCh:
			case <-poll.C:
				poll.Reset(w.s.cfg.Poll)
			}
			continue
		}
		item := *next
		launched = item.ID
		mu.Lock()
		window = append(window, flight{id: item.ID})
		running++
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok := w.deliver(item, ack)
			mu.Lock()
			running--
			if ok {
				for i := range window {
					if window[i].id == item.ID {
						window[i].done = true
						break
					}
				}
			}
			mu.Unlock()
			if !ok {
				stopped.Store(true)
			}
			signal()
		}()
	}
}

// deliver tries item up to MaxAttempts times; before waiting to retry it
// calls flush, so that what was delivered before is not sent again. It
// returns false when it stopped early (worker stopped or lease lost): the
// item stays queued.
func (w *worker) deliver(item engine.WebhookItem, flush func() bool) bool {
	cfg := w.s.cfg
	start := time.Now()
	body := item.Body
	if item.Event != nil { // queued with its publish: encoded here
		b, err := cfg.Encoding.Body(item.Event, item.Full)
		if err != nil {
			deadLetteredTotal.WithLabelValues(w.name, "encoding").Inc()
			w.count(func() { w.dead++ })
			w.s.log.Error("webhook event dead-lettered: cannot encode it", "endpoint", w.name, "item", item.ID, "err", err)
			return true
		}
		body = b
	}
	for attempt := 1; ; attempt++ {
		if !w.holdLease() {
			return false
		}
		tracing := newTracingID()
		err := w.post(body, tracing)
		if err == nil { // removed by drain, even when the worker is stopping
			deliveredTotal.WithLabelValues(w.name).Inc()
			deliverySeconds.WithLabelValues(w.name).Observe(time.Since(start).Seconds())
			w.count(func() { w.delivered++ })
			return true
		}
		if w.ctx.Err() != nil {
			return false
		}
		w.fail(err.Error())
		if attempt >= cfg.MaxAttempts {
			deadLetteredTotal.WithLabelValues(w.name, "attempts").Inc()
			w.count(func() { w.dead++ })
			w.s.log.Error("webhook event dead-lettered", "endpoint", w.name, "url", w.ep.URL,
				"item", item.ID, "attempts", attempt, "tracing_id", tracing, "err", err)
			return true
		}
		delay := backoff(cfg.BaseDelay, cfg.MaxDelay, attempt)
		retriedTotal.WithLabelValues(w.name).Inc()
		w.count(func() { w.retried++ })
		w.s.log.Warn("webhook delivery failed", "endpoint", w.name, "url", w.ep.URL, "item", item.ID,
			"attempt", attempt, "tracing_id", tracing, "retry_in", delay.Round(time.Millisecond), "err", err)
		if !flush() {
			return false
		}
		t := time.NewTimer(delay)
		select {
		case <-w.ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
	}
}

// holdLease renews the lease when a third of it has passed; false when it
// is lost (another node delivers now) or the queue cannot be reached.
func (w *worker) holdLease() bool {
	w.leaseMu.Lock()
	defer w.leaseMu.Unlock()
	ttl := w.leaseTTL()
	if time.Since(w.leased) < ttl/3 {
		return true
	}
	held, err := w.s.cfg.Store.WebhookLease(w.ctx, w.name, w.s.cfg.Node, ttl)
	if err != nil || !held {
		return false
	}
	w.leased = time.Now()
	return true
}

// stopGrace is how long an attempt in flight may still finish once the
// worker is stopped, so that a graceful stop does not send it twice.
const stopGrace = 2 * time.Second

// post makes one attempt; nil on a 2xx answer.
func (w *worker) post(body []byte, tracing string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), w.s.cfg.Timeout)
	defer cancel()
	stop := context.AfterFunc(w.ctx, func() {
		t := time.AfterFunc(stopGrace, cancel)
		context.AfterFunc(ctx, func() { t.Stop() })
	})
	defer stop()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.ep.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	for k, v := range w.ep.CustomHeaders {
		if !reservedHeaders[http.CanonicalHeaderKey(k)] {
			req.Header.Set(k, v)
		}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header[TracingHeader] = []string{tracing} // the seed's spelling, not canonicalised
	resp, err := w.s.cfg.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("answered %s", resp.Status)
	}
	return nil
}

// backoff is the delay before retry n (from 1): BaseDelay doubled n-1
// times, capped at MaxDelay, with up to a quarter taken off at random so
// that nodes and endpoints do not retry in step.
func backoff(base, maxDelay time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < maxDelay; i++ {
		d *= 2
	}
	d = min(d, maxDelay)
	return d - time.Duration(rand.Int64N(int64(d)/4+1))
}

// newTracingID is a fresh random id for one attempt.
func newTracingID() string { return crand.Text() }

func (w *worker) fail(msg string) {
	w.count(func() {
		w.lastError = msg
		w.lastErrorAt = time.Now()
	})
}

func (w *worker) count(f func()) {
	w.mu.Lock()
	f()
	w.mu.Unlock()
}

func (w *worker) status(name string) Status {
	w.mu.Lock()
	defer w.mu.Unlock()
	return Status{Name: name, Endpoint: w.ep, Delivered: w.delivered, Retried: w.retried,
		DeadLettered: w.dead, LastError: w.lastError, LastErrorAt: w.lastErrorAt}
}
