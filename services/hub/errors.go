package hub

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/services/engine"
)

// Domain errors of the hub. toStatus turns them (and engine errors) into
// status codes; nothing else in the package builds a status from an error.
var (
	errNamespaceNotFound = errors.New("namespace not found")
	errHistoryOff        = errors.New("history is not kept for this channel")
	errPresenceOff       = errors.New("presence is not kept for this channel")
	errSessionNotFound   = errors.New("session not found")
	errMuxNotFound       = errors.New("multiplexed stream not found")
	errSessionExists     = errors.New("session id in use by a live session")
	errPermission        = errors.New("permission denied")
	errNoAnswer          = errors.New("the session did not answer in time")
	errNoCommands        = errors.New("the session's face takes no commands")
	errEdgeUnavailable   = errors.New("the session's connection cannot be reached")
	// errObserver: the event was published but could not be queued for
	// webhooks; retrying is safe for the publisher to consider.
	errObserver = errors.New("event published, but not queued for webhooks")
)

// errEngineUnavailable is the message of UNAVAILABLE for an engine outage.
const errEngineUnavailable = "engine unavailable, retry later"

// commandError is a session's own error answer to a relayed command.
type commandError struct{ e *pb.CommandError }

func (e *commandError) Error() string { return e.e.GetMessage() }

// fieldError is invalid input in one request field.
type fieldError struct {
	field string
	msg   string
}

func (e *fieldError) Error() string { return e.field + ": " + e.msg }

func invalid(field, format string, args ...any) error {
	return &fieldError{field: field, msg: fmt.Sprintf(format, args...)}
}

// toStatus maps an error to the status the client sees. Unknown errors are
// internal: logged here, their text never shown.
func (h *Hub) toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	var fe *fieldError
	switch {
	case errors.As(err, &fe):
		st := status.New(codes.InvalidArgument, fe.Error())
		if d, derr := st.WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: fe.field, Description: fe.msg}}}); derr == nil {
			st = d
		}
		return st.Err()
	case errors.Is(err, errNamespaceNotFound), errors.Is(err, errSessionNotFound), errors.Is(err, errMuxNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, errSessionExists):
		return status.Error(codes.AlreadyExists, err.Error())
	case errors.Is(err, errHistoryOff), errors.Is(err, errPresenceOff):
		return status.Error(codes.FailedPrecondition, err.Error())
	case errors.As(err, new(*commandError)):
		var ce *commandError
		errors.As(err, &ce)
		st := status.New(codes.FailedPrecondition, "the session answered with an error: "+ce.e.GetMessage())
		if d, derr := st.WithDetails(ce.e); derr == nil {
			st = d
		}
		return st.Err()
	case errors.Is(err, errNoAnswer):
		return status.Error(codes.DeadlineExceeded, err.Error())
	case errors.Is(err, errNoCommands):
		return status.Error(codes.Unimplemented, err.Error())
	case errors.Is(err, errEdgeUnavailable):
		return status.Error(codes.Unavailable, err.Error())
	case errors.Is(err, errPermission):
		return status.Error(codes.PermissionDenied, err.Error())
	case errors.Is(err, engine.ErrPositionGone):
		return status.Error(codes.OutOfRange, err.Error()+": read history and resubscribe from its position")
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "canceled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	case errors.Is(err, errObserver):
		h.log.Warn("webhook queue", "err", err)
		return status.Error(codes.Unavailable, errObserver.Error())
	case errors.Is(err, engine.ErrClosed):
		return status.Error(codes.Unavailable, "shutting down")
	case errors.Is(err, engine.ErrUnavailable):
		// Retryable: the engine's backend is down or not ready.
		h.log.Warn("engine unavailable", "err", err)
		return status.Error(codes.Unavailable, errEngineUnavailable)
	default:
		h.log.Error("internal error", "err", err)
		return status.Error(codes.Internal, "internal error")
	}
}
