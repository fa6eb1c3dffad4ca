package webhook

import (
	"time"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/streamable"
)

// Streamable is the Encoding of Comet's StreamableEvent, the one shared
// with the admin event stream (package streamable).
type Streamable struct {
	Version string    // the server's version, in HELLO
	Node    string    // ServerStartHash of HELLO
	Started time.Time // ServerStartTime of HELLO
}

// Type implements Encoding.
func (Streamable) Type(ev *pb.Event) (int, bool) {
	t, ok := streamable.TypeOf(ev)
	return int(t), ok
}

// Body implements Encoding.
func (Streamable) Body(ev *pb.Event, full bool) ([]byte, error) {
	e, _ := streamable.FromEvent(ev)
	if !full {
		e.Data = nil
	}
	return e.Marshal(), nil
}

// Hello implements Encoding.
func (s Streamable) Hello(full bool) ([]byte, error) {
	e := streamable.Hello(s.Version, s.Started.Unix(), time.Now().Unix(), s.Node)
	if !full {
		e.Data = nil
	}
	return e.Marshal(), nil
}
