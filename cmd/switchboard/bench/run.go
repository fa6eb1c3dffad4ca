package bench

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"google.golang.org/grpc/status"
)

// Bounds of single steps.
const (
	subscribeTimeout = 15 * time.Second // one client's dial and subscription
	stopWait         = 15 * time.Second // for readers to return after their connections closed
	fdsPerClient     = 1                // descriptors a client holds in this process
	fdsSpare         = 256              // listeners, publisher, gRPC, files
)

// ErrFileLimit: the open-file limit is too low for the number of clients.
var ErrFileLimit = errors.New("bench: open-file limit too low")

// ErrSetup: too many clients failed to connect.
var ErrSetup = errors.New("bench: clients failed to connect")

// Run performs one benchmark and returns its report. It stops by itself:
// every phase is bounded, the whole run by o.Timeout. A run that times out
// while messages are still arriving still reports (with the loss); a run
// that cannot set up its server or clients returns an error.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()

	r := &Report{
		Scenario:   o.Scenario,
		Face:       o.Face,
		Redis:      o.Server.Redis != "",
		Publisher:  o.Publisher,
		ServerMode: o.Server.Mode,
		Clients:    o.Clients,
		Messages:   o.Messages,
		Publishers: o.Publishers,
		Rate:       o.Rate,
		CPUs:       runtime.NumCPU(),
		Started:    time.Now().UTC(),
	}
	if o.Server.Centrifugo != "" {
		r.Publisher = "centrifugo POST /api/publish"
	}
	r.PayloadBytes = len(appendPayload(nil, time.Now().UnixNano(), int64(max(o.Messages-1, 0)), o.Pad))

	need := uint64(o.Clients*fdsPerClient + fdsSpare)
	if o.Server.Mode == ServerInProcess {
		need += uint64(o.Clients) // the server's end of every connection
	}
	// A spawned server inherits the limit and needs as many for its end.
	limit, err := raiseFileLimit(need + fdsSpare)
	if err != nil {
		r.Notes = append(r.Notes, fmt.Sprintf("open-file limit not raised: %v", err))
	}
	r.FileLimit = limit
	if limit != 0 && limit < need {
		return nil, fmt.Errorf("%w: %d open files allowed, %d clients need about %d here (raise the hard limit, or use --server spawn so the server's sockets count in its own process)", ErrFileLimit, limit, o.Clients, need)
	}

	tgt, err := startTarget(ctx, &o)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := tgt.stop(); err != nil {
			r.Notes = append(r.Notes, fmt.Sprintf("server stop: %v", err))
		}
	}()
	r.Server = tgt.what
	r.SharedProcess = tgt.shared

	f, err := faces[o.Face](tgt, &o)
	if err != nil {
		return nil, err
	}
	defer f.close()

	run := &runner{o: &o, r: r, tgt: tgt, face: f}
	run.channels = channelNames(o.Scenario, o.Clients)
	r.Channels = len(run.channels)
	run.plan = plan{channels: len(run.channels), messages: o.Messages, publishers: o.Publishers}
	run.col = newCollector(int64(run.plan.maxSeq()), run.plan.lanes())
	run.prog = startProgress(&o, run.col, len(run.channels))
	defer run.prog.stop()

	if err := run.execute(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

// runner holds the state of one run.
type runner struct {
	o        *Options
	r        *Report
	tgt      *target
	face     face
	channels []string
	plan     plan
	col      *collector
	prog     *progress

	clients []*client // index i is subscriber i; nil when it failed
	tallies []*tally
	subs    []int64 // connected subscribers per channel
}

// channelNames are fresh names, so that runs against the same server never
// see each other's messages. They use only [a-z0-9_], which every face
// accepts as a channel (DRP Types cannot hold dots, comet pipes only
// [A-Za-z0-9_-]).
func channelNames(scenario string, clients int) []string {
	base := "bench_" + randomHex(4)
	if scenario != ScenarioChannels {
		return []string{base}
	}
	out := make([]string, clients)
	for i := range out {
		out[i] = fmt.Sprintf("%s_%d", base, i)
	}
	return out
}

func (run *runner) channelOf(i int) string {
	if len(run.channels) == 1 {
		return run.channels[0]
	}
	return run.channels[i]
}

func (run *runner) execute(ctx context.Context) error {
	o, r := run.o, run.r
	defer run.stopClients()

	run.prog.setPhase("settling")
	before, memErr := run.rss(ctx)
	if err := run.connect(ctx); err != nil {
		return err
	}
	run.prog.setPhase("settling")
	after, err := run.rss(ctx)
	if memErr == nil {
		memErr = err
	}
	r.Memory.SettleSeconds = o.Settle.Seconds()
	if memErr != nil {
		r.Memory.Error = memErr.Error()
	} else {
		r.Memory.Available = true
		r.Memory.RSSBefore, r.Memory.RSSAfter = before, after
		if r.Setup.Connected > 0 {
			r.Memory.PerConn = float64(after-before) / float64(r.Setup.Connected)
		}
	}

	if o.Scenario != ScenarioIdle {
		run.countSubscribers()
		run.col.expect(run.planned())
		cpu := run.startCPU()
		if err := run.publish(ctx); err != nil {
			return err
		}
		run.drain(ctx)
		cpu.stop()
	}
	run.prog.setPhase("closing")
	run.stopClients()
	run.account()
	return nil
}

// rss reads the server's resident memory after the settle time. An
// in-process server is first collected and its free memory returned to the
// system, so that the figure shows what is live, not what the collector has
// yet to reclaim.
func (run *runner) rss(ctx context.Context) (int64, error) {
	if run.tgt.pid == 0 {
		return 0, fmt.Errorf("%w: the server's pid is unknown (--server-pid)", ErrNoRSS)
	}
	if err := sleep(ctx, run.o.Settle); err != nil {
		return 0, err
	}
	if run.tgt.shared {
		runtime.GC()
		debug.FreeOSMemory()
	}
	return readRSS(run.tgt.pid)
}

// connect opens every subscriber, DialConcurrency at a time.
func (run *runner) connect(ctx context.Context) error {
	o, r := run.o, run.r
	run.prog.setPhase("connecting")
	run.clients = make([]*client, o.Clients)
	run.tallies = make([]*tally, o.Clients)
	maxFailed := int64(max(10, o.Clients/100))

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next, failed atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range min(o.DialConcurrency, o.Clients) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= o.Clients || ctx.Err() != nil {
					return
				}
				t := newTally(run.col, i)
				dctx, dcancel := context.WithTimeout(ctx, subscribeTimeout)
				c, err := run.face.subscribe(dctx, run.channelOf(i), t)
				dcancel()
				if err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("client %d: %w", i, err) })
					run.prog.failed.Add(1)
					if failed.Add(1) > maxFailed {
						cancel()
					}
					continue
				}
				run.clients[i], run.tallies[i] = c, t
				run.prog.connected.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	r.Setup = SetupReport{
		Connected:   int(run.prog.connected.Load()),
		Failed:      int(failed.Load()),
		Seconds:     elapsed.Seconds(),
		Concurrency: o.DialConcurrency,
	}
	if r.Setup.Connected > 0 {
		r.Setup.PerSecond = float64(r.Setup.Connected) / elapsed.Seconds()
	}
	if firstErr != nil {
		r.Setup.FirstError = firstErr.Error()
	}
	if failed.Load() > maxFailed || r.Setup.Connected == 0 {
		return fmt.Errorf("%w: %d of %d failed, the first: %v", ErrSetup, failed.Load(), o.Clients, firstErr)
	}
	return nil
}

// countSubscribers counts the connected subscribers of each channel.
func (run *runner) countSubscribers() {
	run.subs = make([]int64, len(run.channels))
	for i, c := range run.clients {
		if c != nil {
			run.subs[run.channelIndex(i)]++
		}
	}
}

func (run *runner) channelIndex(client int) int {
	if len(run.channels) == 1 {
		return 0
	}
	return client
}

// planned is the number of deliveries when every publication goes out.
func (run *runner) planned() int64 {
	var n int64
	for c, subs := range run.subs {
		n += subs * int64(run.plan.perChannel(c))
	}
	return n
}

// publish sends the publications with o.Publishers concurrent publishers,
// at o.Rate in all (publication k is due k/rate after the start) or flat
// out.
func (run *runner) publish(ctx context.Context) error {
	o, r := run.o, run.r
	run.prog.setPhase("publishing")
	pubs := make([]publisher, o.Publishers)
	defer func() {
		for _, p := range pubs {
			if p != nil {
				p.close()
			}
		}
	}()
	for i := range pubs {
		p, err := newPublisher(o, run.tgt)
		if err != nil {
			return err
		}
		pubs[i] = p
	}
	var interval time.Duration
	if o.Rate > 0 {
		interval = time.Duration(float64(time.Second) / o.Rate)
	}
	type result struct {
		sent, failed int
		expected     int64 // deliveries owed for what was sent
		firstErr     error
	}
	results := make([]result, len(pubs))
	start := time.Now()
	run.col.firstPublish = start
	var wg sync.WaitGroup
	for i, pub := range pubs {
		wg.Go(func() {
			res := &results[i]
			var payload []byte
			run.plan.each(i, func(k, ch, seq int) bool {
				if interval > 0 {
					if err := sleep(ctx, time.Until(start.Add(time.Duration(k)*interval))); err != nil {
						return false
					}
				}
				payload = appendPayload(payload[:0], time.Now().UnixNano(), int64(seq), o.Pad)
				if err := pub.publish(ctx, run.channels[ch], payload); err != nil {
					if ctx.Err() != nil {
						return false
					}
					res.failed++
					if res.firstErr == nil {
						res.firstErr = fmt.Errorf("publication %d (channel %d, seq %d): %w", k, ch, seq, err)
					}
					return true
				}
				res.sent++
				res.expected += run.subs[ch]
				run.prog.published.Add(1)
				return true
			})
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	var expected int64
	var firstErr error
	for _, res := range results {
		r.Publish.Sent += res.sent
		r.Publish.Failed += res.failed
		expected += res.expected
		if firstErr == nil {
			firstErr = res.firstErr
		}
	}
	r.Publish.Seconds = elapsed.Seconds()
	if r.Publish.Sent > 0 {
		r.Publish.PerSecond = float64(r.Publish.Sent) / elapsed.Seconds()
	}
	if firstErr != nil {
		r.Publish.FirstError = firstErr.Error()
	}
	if r.Publish.Sent < o.Messages {
		// Publications never sent cannot be waited for.
		run.col.expect(expected)
		if ctx.Err() != nil {
			r.Notes = append(r.Notes, "the run timed out while publishing")
		}
	}
	return nil
}

// cpuWindow measures the server's CPU time from the first publication to
// the end of the drain.
type cpuWindow struct {
	run    *runner
	start  time.Time
	cpu    time.Duration
	err    error
	pubCPU time.Duration // node A's, with two nodes
	pubErr error
}

func (run *runner) startCPU() *cpuWindow {
	w := &cpuWindow{run: run, start: time.Now()}
	if run.tgt.pid == 0 {
		w.err = fmt.Errorf("%w: the server's pid is unknown (--server-pid)", ErrNoCPU)
		return w
	}
	w.cpu, w.err = readCPU(run.tgt.pid)
	if run.tgt.pubPID != 0 {
		w.pubCPU, w.pubErr = readCPU(run.tgt.pubPID)
	}
	return w
}

func (w *cpuWindow) stop() {
	c := &w.run.r.CPU
	c.WindowSeconds = time.Since(w.start).Seconds()
	if w.run.tgt.pubPID != 0 && w.pubErr == nil {
		if end, err := readCPU(w.run.tgt.pubPID); err == nil {
			c.PublisherNodeSeconds = (end - w.pubCPU).Seconds()
		}
	}
	if w.err == nil {
		var end time.Duration
		end, w.err = readCPU(w.run.tgt.pid)
		w.cpu = end - w.cpu
	}
	if w.err != nil {
		c.Error = w.err.Error()
		return
	}
	c.Available = true
	c.Seconds = w.cpu.Seconds()
	c.Shared = w.run.tgt.shared
}

// drain waits until every subscriber has every message, o.Drain after the
// last publish at most.
func (run *runner) drain(ctx context.Context) {
	run.prog.setPhase("draining")
	t := time.NewTimer(run.o.Drain)
	defer t.Stop()
	select {
	case <-run.col.done:
	case <-t.C:
		run.r.Notes = append(run.r.Notes, fmt.Sprintf("stopped waiting for deliveries %v after the last publish (--drain)", run.o.Drain))
	case <-ctx.Done():
		run.r.Notes = append(run.r.Notes, "the run timed out while messages were still arriving (--timeout)")
	}
}

// stopClients ends every connection and waits for the readers. It may run
// twice (the second time finds nothing to do).
func (run *runner) stopClients() {
	var live []*client
	for i, c := range run.clients {
		if c != nil {
			c.stop()
			live = append(live, c)
			run.clients[i] = nil
		}
	}
	deadline := time.After(stopWait)
	for _, c := range live {
		select {
		case <-c.done:
		case <-deadline:
			run.r.Notes = append(run.r.Notes, "some readers did not return after their connections were closed")
			return
		}
	}
}

// account adds up the tallies once every reader has returned.
func (run *runner) account() {
	r := run.r
	d := &r.Delivery
	d.Expected = run.col.expected.Load()
	var last time.Time
	for _, t := range run.tallies {
		if t == nil {
			continue
		}
		d.Delivered += t.unique
		d.Duplicated += t.dups
		d.Reordered += t.reordered
		d.Stray += t.stray
		if t.last.After(last) {
			last = t.last
		}
		if t.ended != nil {
			d.Disconnected++
			if d.DisconnectReasons == nil {
				d.DisconnectReasons = map[string]int{}
			}
			d.DisconnectReasons[endReason(t.ended)]++
		}
	}
	d.Lost = d.Expected - d.Delivered
	d.Complete = d.Lost == 0
	if d.Delivered > 0 && !run.col.firstPublish.IsZero() {
		span := last.Sub(run.col.firstPublish)
		d.Seconds = span.Seconds()
		if span > 0 {
			d.PerSecond = float64(d.Delivered) / span.Seconds()
		}
	}
	if c := &r.CPU; c.Available && d.Delivered > 0 {
		c.PerMillionDeliveries = c.Seconds / float64(d.Delivered) * 1e6
	}
	if c := &r.CPU; c.Available && r.Publish.Sent > 0 {
		c.PerMillionPublications = c.Seconds / float64(r.Publish.Sent) * 1e6
	}
	l := run.col.latencies()
	r.Latency = LatencyReport{Samples: l.Count, Mean: ms(l.Mean), P50: ms(l.P50), P95: ms(l.P95), P99: ms(l.P99), Max: ms(l.Max)}
}

// endReason groups why connections ended: a websocket close code and
// reason, a gRPC status code, or the error's text.
func endReason(err error) string {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return fmt.Sprintf("websocket close %d %q", int(ce.Code), ce.Reason)
	}
	if s, ok := status.FromError(err); ok {
		return "grpc " + s.Code().String() + ": " + s.Message()
	}
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		msg = msg[i+2:] // the innermost cause
	}
	return msg
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
