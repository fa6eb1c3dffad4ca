package user

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/switchboard-hub/switchboard/services/engine"
	"github.com/switchboard-hub/switchboard/services/engine/redis"
)

// ErrInvalid marks a request the caller must fix; its text is shown to the
// caller. Anything else is an internal failure whose details stay in the log.
var ErrInvalid = errors.New("invalid argument")

// invalid builds an ErrInvalid with a message for the caller.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// toStatus is the one place that maps this service's errors to gRPC codes.
func toStatus(ctx context.Context, log *slog.Logger, method string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrInvalid):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "canceled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	case errors.Is(redis.Classify(err), engine.ErrUnavailable):
		// The Redis store's calls fail like the engine's: retryable.
		log.WarnContext(ctx, "user store unavailable", "method", method, "err", err)
		return status.Error(codes.Unavailable, "user store unavailable, retry later")
	default:
		log.ErrorContext(ctx, "user service failure", "method", method, "err", err)
		return status.Error(codes.Internal, "internal error")
	}
}
