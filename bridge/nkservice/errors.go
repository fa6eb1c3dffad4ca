package nkservice

import (
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// Error is an NkSERVICE error: a code and its text (nkservice.md §4).
type Error struct {
	Code int64
	Text string
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s", e.Code, e.Text) }

// The errors this face answers with, codes and texts of §4.
var (
	errInternal          = &Error{100002, "Internal error"}
	errInvalidReply      = &Error{100003, "Internal error: invalid reply"}
	errTimeout           = &Error{100005, "Timeout"}
	errNotImplemented    = &Error{100006, "Not implemented"}
	errUnauthorized      = &Error{100030, "Unauthorized"}
	errNotAuthenticated  = &Error{100031, "Not authenticated"}
	errAlreadyAuth       = &Error{100032, "Already authenticated"}
	errUserNotFound      = &Error{100033, "User not found"}
	errDuplicatedSession = &Error{100034, "Duplicated session id"}
	errInvalidSession    = &Error{100035, "Invalid session id"}
	errSessionStop       = &Error{100061, "Session stop"}
	errSessionNotFound   = &Error{100062, "Session not found"}
)

func errUnknownCommand(cmd string) *Error { return &Error{100042, "Unknown command '" + cmd + "'"} }
func errSyntax(txt string) *Error         { return &Error{100044, "Syntax error: " + txt} }
func errMissingField(f string) *Error     { return &Error{100045, "Missing field: " + f} }

// fromStatus is the one table from a core call's status to the error the
// client sees. A session's own error answer to a relayed command
// (FAILED_PRECONDITION with a CommandError) is passed on as it was.
func fromStatus(err error) *Error {
	st, ok := status.FromError(err)
	if !ok {
		return errInternal
	}
	for _, d := range st.Details() {
		if ce, ok := d.(*pb.CommandError); ok {
			return &Error{Code: ce.GetCode(), Text: ce.GetMessage()}
		}
	}
	switch st.Code() {
	case codes.NotFound:
		return errSessionNotFound
	case codes.DeadlineExceeded:
		return errTimeout
	case codes.PermissionDenied, codes.Unauthenticated:
		return errUnauthorized
	case codes.InvalidArgument:
		return errSyntax(st.Message())
	case codes.Unimplemented:
		return errNotImplemented
	default:
		return errInternal
	}
}
