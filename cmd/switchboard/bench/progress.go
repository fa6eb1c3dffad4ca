package bench

import (
	"fmt"
	"sync/atomic"
	"time"
)

// progress shows a live status line while a run goes on.
type progress struct {
	o     *Options
	col   *collector
	start time.Time

	phase     atomic.Pointer[string]
	connected atomic.Int64
	failed    atomic.Int64
	published atomic.Int64
	channels  int

	stopc chan struct{}
	done  chan struct{}
}

func startProgress(o *Options, col *collector, channels int) *progress {
	p := &progress{o: o, col: col, start: time.Now(), channels: channels, stopc: make(chan struct{}), done: make(chan struct{})}
	p.setPhase("starting")
	if o.Progress == nil {
		close(p.done)
		return p
	}
	go p.loop()
	return p
}

func (p *progress) setPhase(s string) { p.phase.Store(&s) }

func (p *progress) loop() {
	defer close(p.done)
	t := time.NewTicker(p.o.ProgressInterval)
	defer t.Stop()
	for {
		select {
		case <-p.stopc:
			p.print(true)
			return
		case <-t.C:
			p.print(false)
		}
	}
}

func (p *progress) print(last bool) {
	line := p.line()
	switch {
	case p.o.ProgressLines:
		fmt.Fprintln(p.o.Progress, line)
	case last:
		fmt.Fprintf(p.o.Progress, "\r%s\033[K\n", line)
	default:
		fmt.Fprintf(p.o.Progress, "\r%s\033[K", line)
	}
}

func (p *progress) line() string {
	s := fmt.Sprintf("%-10s %6.1fs  connected %d/%d", *p.phase.Load(), time.Since(p.start).Seconds(), p.connected.Load(), p.o.Clients)
	if n := p.failed.Load(); n > 0 {
		s += fmt.Sprintf(" (%d failed)", n)
	}
	if p.o.Messages > 0 {
		s += fmt.Sprintf("  published %d/%d  received %d/%d", p.published.Load(), p.o.Messages, p.col.unique.Load(), p.col.expected.Load())
	}
	return s
}

// stop prints the last line and ends the display.
func (p *progress) stop() {
	select {
	case <-p.stopc:
	default:
		close(p.stopc)
	}
	<-p.done
}
