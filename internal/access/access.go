// Package access compares an Audience with a reader. The core derives a
// channel's Audience from its name (services/hub, the only place that knows
// the channel rules) and sends it with every event of a limited channel;
// the core and the faces that share one stream among many sockets then ask
// Admits, so that a reader is admitted or refused the same way everywhere.
package access

import (
	"slices"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// Reader is who reads a channel.
type Reader struct {
	// Server: an api-key caller reading for itself (a backend, the server
	// API, an admin of a face). It is admitted everywhere.
	Server bool
	// User counts only when Authenticated.
	User          string
	Authenticated bool
	// Signed: an api-key caller made this read for the user (subscribed or
	// joined one of its sessions), as a Centrifugo v1 backend signs a
	// client's private-channel subscription. Server-only audiences admit
	// it; the user rules still apply.
	Signed bool
}

// ServerReader is the reader every audience admits.
var ServerReader = Reader{Server: true}

// FromPrincipal is the reader a pb.Principal stands for (a nil principal
// is a guest).
func FromPrincipal(p *pb.Principal) Reader {
	return Reader{User: p.GetUser(), Authenticated: p.GetAuthenticated()}
}

// Principal is r as a pb.Principal, for a face to send with a read.
func (r Reader) Principal() *pb.Principal {
	return &pb.Principal{User: r.User, Authenticated: r.Authenticated}
}

// Admits reports whether r may read events whose audience is a. A nil
// audience admits everyone; otherwise every condition it sets must hold.
func Admits(a *pb.Audience, r Reader) bool {
	if a == nil || r.Server {
		return true
	}
	if a.GetServerOnly() && !r.Signed {
		return false
	}
	if (a.GetAuthenticated() || len(a.GetUsers()) > 0) && (!r.Authenticated || r.User == "") {
		return false
	}
	return len(a.GetUsers()) == 0 || slices.Contains(a.GetUsers(), r.User)
}
