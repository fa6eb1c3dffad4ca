package bridge

import (
	"log/slog"

	"github.com/switchboard-hub/switchboard/bridge/control"
	"github.com/switchboard-hub/switchboard/bridge/fanout"
	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// Deps are what every face is built from: clients of the core's services and
// the shared bridge pieces. The app fills them once per process.
type Deps struct {
	Hub      pb.HubServiceClient
	Sessions pb.SessionServiceClient
	Fanout   *fanout.Fanout
	Control  *control.Router
	Logger   *slog.Logger
	Node     string // name of this process, for logs and presence
}
