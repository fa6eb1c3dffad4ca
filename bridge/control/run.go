package control

import (
	"context"
	"errors"
	"io"
	"time"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// Run opens the edge's Control stream and dispatches its orders until ctx
// ends, reopening the stream with backoff whenever it breaks. It returns nil
// when ctx ends, or ErrRunning if another Run is active.
func (r *Router) Run(ctx context.Context) error {
	r.mu.Lock()
	if r.running {
		r.mu.Unlock()
		return ErrRunning
	}
	r.running = true
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.running = false
		r.mu.Unlock()
	}()

	backoff := minBackoff
	for {
		started := time.Now()
		err := r.serveStream(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(started) > stableAfter {
			backoff = minBackoff
		}
		r.log.Warn("control stream broken; reconnecting", "edge", r.edge, "err", err, "backoff", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// serveStream runs one Control stream from open to break.
func (r *Router) serveStream(ctx context.Context) error {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := r.sessions.Control(sctx, &pb.ControlRequest{Edge: r.edge})
	if err != nil {
		return err
	}
	r.mu.Lock()
	gen := r.gen
	r.mu.Unlock()
	defer r.markBroken()
	// Headers mean the hub has registered the edge. A hub that sends none
	// before its first order would keep every Connect waiting; after a grace
	// period the stream is taken as open anyway (the edge's registration is
	// the hub's first step, long done by then) and the lapse is logged.
	grace := time.AfterFunc(headerGrace, func() {
		r.log.Warn("control stream sent no headers; assuming it is open", "edge", r.edge, "after", headerGrace)
		r.markOpen(gen)
	})
	md, _ := stream.Header()
	if grace.Stop() && md != nil {
		r.markOpen(gen)
	}
	// A nil header means the stream ended before any; Recv reports why.
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return errStreamEnded
		}
		if err != nil {
			return err
		}
		r.markOpen(gen)
		r.dispatch(msg)
	}
}

// markOpen lets Connect calls pass, if stream generation gen is still the
// current one (a late grace timer of a broken stream must not reopen).
func (r *Router) markOpen(gen uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gen != gen {
		return
	}
	select {
	case <-r.open:
	default:
		close(r.open)
	}
}

// markBroken makes Connect calls wait for the next stream.
func (r *Router) markBroken() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gen++
	select {
	case <-r.open:
		r.open = make(chan struct{})
	default:
	}
}

// dispatch hands one order to its session's handler. Orders for sessions
// that are not (or no longer) here are dropped: the session ended.
func (r *Router) dispatch(msg *pb.ControlResponse) {
	h := r.handler(msg.GetSessionId())
	if h == nil {
		r.log.Debug("control order for unknown session", "session", msg.GetSessionId())
		return
	}
	switch o := msg.GetOrder().(type) {
	case *pb.ControlResponse_Disconnect:
		h.Disconnect(o.Disconnect.GetReason())
	case *pb.ControlResponse_Unsubscribe:
		h.Unsubscribe(o.Unsubscribe.GetChannel())
	case *pb.ControlResponse_Event:
		h.Deliver(o.Event)
	case *pb.ControlResponse_Command:
		if c, ok := h.(Commander); ok {
			c.Command(o.Command)
			return
		}
		go r.refuseCommand(o.Command)
	default:
		r.log.Debug("control order of unknown kind", "session", msg.GetSessionId())
	}
}

// errStreamEnded is what a stream that ended cleanly reports to the logs.
var errStreamEnded = errors.New("control stream ended by the hub")

// Commander is a Handler whose connections take relayed commands
// (DirectoryService.SendCommand). It answers each order, whatever happens,
// with SessionService.ReplyCommand; the caller gives up after the order's
// timeout. Command must not block.
type Commander interface {
	Command(order *pb.CommandOrder)
}

// refuseCommand answers a command for a session whose face takes none.
func (r *Router) refuseCommand(o *pb.CommandOrder) {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	_, err := r.sessions.ReplyCommand(ctx, &pb.ReplyCommandRequest{Id: o.GetId(),
		Error: &pb.CommandError{Message: "this connection takes no commands"}})
	if err != nil {
		r.log.Debug("command refusal not sent", "err", err)
	}
}
