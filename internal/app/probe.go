package app

import (
	"context"
	"errors"
	"sync"
	"time"
)

// readyTimeout bounds /readyz and each gRPC health update: a check that
// cannot finish in this time (a frozen Redis answers nothing, it does not
// refuse) counts as a failure.
const readyTimeout = time.Second

// probeLimit bounds a probe left running after its callers gave up.
const probeLimit = 10 * time.Second

var errProbeTimeout = errors.New("no answer within the readiness timeout")

// prober runs at most one engine health check at a time and lets callers
// wait for it no longer than they choose, so that a backend that hangs
// neither makes /readyz hang nor piles up checks behind it.
type prober struct {
	check func(context.Context) error

	mu       sync.Mutex
	inflight *probe
}

type probe struct {
	done chan struct{}
	err  error
}

// healthy reports the result of the running check, or of a new one,
// waiting at most timeout for it.
func (p *prober) healthy(ctx context.Context, timeout time.Duration) error {
	p.mu.Lock()
	cur := p.inflight
	if cur == nil {
		cur = &probe{done: make(chan struct{})}
		p.inflight = cur
		go func() {
			cctx, cancel := context.WithTimeout(context.Background(), probeLimit)
			cur.err = p.check(cctx)
			cancel()
			p.mu.Lock()
			p.inflight = nil
			p.mu.Unlock()
			close(cur.done)
		}()
	}
	p.mu.Unlock()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-cur.done:
		return cur.err
	case <-t.C:
		return errProbeTimeout
	case <-ctx.Done():
		return ctx.Err()
	}
}
