package hub

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/switchboard-hub/switchboard/services/engine"
)

// Domain errors of the hub. toStatus turns them (and engine errors) into
// status codes; nothing else in the package builds a status from an error.
var (
	errNamespaceNotFound = errors.New("namespace not found")
	errHistoryOff        = errors.New("history is not kept for this channel")
	errPresenceOff       = errors.New("presence is not kept for this channel")
	errSessionNotFound   = errors.New("session not found")
	errPermission        = errors.New("permission denied")
	// errObserver: the event was published but could not be queued for
	// webhooks; retrying is safe for the publisher to consider.
	errObserver = errors.New("event published, but not queued for webhooks")
)

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
	case errors.Is(err, errNamespaceNotFound), errors.Is(err, errSessionNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, errHistoryOff), errors.Is(err, errPresenceOff):
		return status.Error(codes.FailedPrecondition, err.Error())
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
	default:
		h.log.Error("internal error", "err", err)
		return status.Error(codes.Internal, "internal error")
	}
}
