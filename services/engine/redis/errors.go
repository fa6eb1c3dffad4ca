package redis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"

	"github.com/redis/rueidis"

	"github.com/switchboard-hub/switchboard/services/engine"
)

// Errors from Redis calls are of two kinds. A refused or broken
// connection, a write that timed out, the client reconnecting, the pub/sub
// link down, or Redis saying it cannot serve yet (LOADING, BUSY, TRYAGAIN,
// MASTERDOWN, CLUSTERDOWN, READONLY) is an outage the caller may retry: it
// wraps engine.ErrUnavailable, which the services map to UNAVAILABLE.
// Anything else (a command or script error, a reply that makes no sense)
// is a bug here and stays an internal error.

// failf is fmt.Errorf for the error of a Redis call: the result also
// wraps engine.ErrUnavailable when the call failed because Redis is not
// reachable or not ready.
func failf(format string, args ...any) error {
	return Classify(fmt.Errorf(format, args...))
}

// Classify returns err, marked as engine.ErrUnavailable when it is an
// outage (see above). The caller's own context ending is left as it is.
// Stores that keep their records beside the engine's use it too.
func Classify(err error) error {
	if err == nil || errors.Is(err, engine.ErrUnavailable) || errors.Is(err, engine.ErrClosed) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var re *rueidis.RedisError
	var ne net.Error
	switch {
	case errors.As(err, &re):
		if !notReady(re) {
			return err
		}
	case errors.As(err, &ne), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, net.ErrClosed),
		errors.Is(err, rueidis.ErrClosing), errors.Is(err, errLinkDown):
	default:
		return err
	}
	return &outage{err: err}
}

// notReady: Redis answered, but only to say it cannot serve the command now.
func notReady(re *rueidis.RedisError) bool {
	if re.IsLoading() || re.IsTryAgain() || re.IsClusterDown() {
		return true
	}
	msg := re.Error()
	return strings.HasPrefix(msg, "BUSY ") || strings.HasPrefix(msg, "MASTERDOWN") || strings.HasPrefix(msg, "READONLY")
}

// outage is an error that wraps engine.ErrUnavailable besides its cause.
type outage struct{ err error }

func (o *outage) Error() string   { return o.err.Error() }
func (o *outage) Unwrap() []error { return []error{o.err, engine.ErrUnavailable} }
