package bridge

import (
	"context"
	"log/slog"

	"github.com/switchboard-hub/switchboard/bridge/control"
	"github.com/switchboard-hub/switchboard/bridge/fanout"
	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// Deps are what every face is built from: clients of the core's services and
// the shared bridge pieces. The app fills them once per process.
type Deps struct {
	// Context ends when the process shuts down. Sockets live under it, not
	// under their HTTP request: a face hands an upgraded connection to a
	// goroutine of its own and returns from ServeHTTP, so that net/http
	// releases the request's buffers (about 10 KB per connection) and its
	// goroutine. nil stands for context.Background().
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
