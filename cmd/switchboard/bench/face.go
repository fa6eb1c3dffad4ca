package bench

import "context"

// face opens subscribers of one kind.
type face interface {
	// subscribe opens one client subscribed to channel and returns once the
	// subscription is live (the face's acknowledgement arrived), so that no
	// message published afterwards can be missed. From then on a goroutine
	// of the client reads every frame into t.
	subscribe(ctx context.Context, channel string, t *tally) (*client, error)
	// close releases what the face shares between clients.
	close()
}

// client is one open subscriber.
type client struct {
	stop func()        // ends the connection; the reader then returns
	done chan struct{} // closed when the reader has returned
}

// newFace builds a face for the target.
type newFace func(t *target, o *Options) (face, error)

// faces are the subscriber kinds, by --face name.
var faces = map[string]newFace{
	"centrifugo": newCentrifugoFace,
	"cppcomet":   newCometFace,
	"drp":        newDRPFace,
	"grpc":       newGRPCFace,
	"nkservice":  newNkFace,
	"rest":       newRESTFace,
}
