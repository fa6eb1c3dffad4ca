package bridge

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/switchboard-hub/switchboard/bridge/control"
	"github.com/switchboard-hub/switchboard/bridge/fanout"
	"github.com/switchboard-hub/switchboard/bridge/wsconn"
	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// Deps are what every face is built from: clients of the core's services and
// the shared bridge pieces. The app fills them once per process.
type Deps struct {
	// Context ends when the process shuts down. Sockets live under it, not
	// under their HTTP request: a face hands an upgraded connection to a
	// goroutine of its own and returns from ServeHTTP, so that net/http
	// releases the request's buffers (about 10 KB per connection) and its
	// goroutine (Face.Go, awaited by Face.Close). nil stands for
	// context.Background().
	Context  context.Context
	Hub      pb.HubServiceClient
	Sessions pb.SessionServiceClient
	Fanout   *fanout.Fanout
	Control  *control.Router
	Logger   *slog.Logger
	Node     string // name of this process, for logs and presence
}

// Lifetime returns d.Context, or context.Background() when it is nil.
func (d Deps) Lifetime() context.Context {
	if d.Context == nil {
		return context.Background()
	}
	return d.Context
}

// Face is what every face builds from Deps once: its logger, its fan-out
// and its lifetime. A face's New calls Deps.Face; its Close calls
// Face.Close.
type Face struct {
	Deps
	// Name of the face, in logs, metrics and fan-out groups.
	Name string
	// Log is the face's logger: the one given, else Deps.Logger, else
	// slog.Default(), with face=Name.
	Log *slog.Logger
	// Fan is Deps.Fanout, or a fan-out of the face's own when there is
	// none (a face built for tests alone).
	Fan *fanout.Fanout

	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// FaceLogger is the logger of face name: logger, else d.Logger, else
// slog.Default(), with face=name.
func (d Deps) FaceLogger(name string, logger *slog.Logger) *slog.Logger {
	if logger == nil {
		logger = d.Logger
	}
	if logger == nil {
		logger = slog.Default()
	}
	return logger.With("face", name)
}

// Face builds the shared part of face name; logger may be nil (the face's
// Options.Logger, usually).
func (d Deps) Face(name string, logger *slog.Logger) *Face {
	log := d.FaceLogger(name, logger)
	fan := d.Fanout
	if fan == nil && d.Hub != nil {
		fan = fanout.New(d.Hub, fanout.Options{Logger: log})
	}
	f := &Face{Deps: d, Name: name, Log: log, Fan: fan}
	f.ctx, f.cancel = context.WithCancel(d.Lifetime())
	return f
}

// Accept fills the fields of opts every face sets the same way: its logger
// and its name.
func (f *Face) Accept(opts wsconn.AcceptOptions) wsconn.AcceptOptions {
	opts.Logger = f.Log
	opts.Face = f.Name
	return opts
}

// Context is the face's lifetime: it ends when Deps.Context ends or at
// Close. Sockets live under it (see Deps.Context) and close when it ends.
func (f *Face) Context() context.Context { return f.ctx }

// Go runs fn on a goroutine of the face, with the face's Context; Close
// waits for it. It reports false, and runs nothing, once Close has begun:
// the caller then ends what it was handing over (closes the socket).
func (f *Face) Go(fn func(ctx context.Context)) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		fn(f.ctx)
	}()
	return true
}

// Close ends the face's Context, so that every socket closes with the
// face's shutdown close, and waits until every goroutine started with Go
// has ended, or ctx ends first (then it reports which face did not end).
// Calling it again waits again.
func (f *Face) Close(ctx context.Context) error {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	f.cancel()
	done := make(chan struct{})
	go func() { f.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: sockets still open at the deadline: %w", f.Name, ctx.Err())
	}
}
