package centrifugo

import (
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Error strings of the v1 API (centrifugo-v1.md §4: proto/errors.go). A
// reply's "error" member is one of these or null; internal details never
// reach a client.
const (
	textInvalidMessage    = "invalid message"
	textMethodNotFound    = "method not found"
	textNamespaceNotFound = "namespace not found"
	textInternal          = "internal server error"
	textNotAvailable      = "not available"
)

// Advice values of a reply (centrifugo-v1.md §3.2): omitted, "fix" (the
// request is wrong) or "retry" (the server failed, try again).
const (
	adviceNone  = ""
	adviceFix   = "fix"
	adviceRetry = "retry"
)

// Sentinels for what the face itself rejects. Parse errors wrap one of the
// first two; ErrInvalidMessage is also what executor-side checks return.
var (
	// ErrInvalidMessage: the body or a command is malformed (v1
	// proto.ErrInvalidMessage). A parse error of this kind fails the whole
	// HTTP request with 400.
	ErrInvalidMessage = errors.New(textInvalidMessage)
	// ErrMethodNotFound: the command names no known method (v1
	// proto.ErrMethodNotFound); also a whole-request 400 over HTTP.
	ErrMethodNotFound = errors.New(textMethodNotFound)
)

// ParseError says which command of a body could not be decoded and why. Kind
// is ErrInvalidMessage or ErrMethodNotFound; Cause, when set, is the
// underlying JSON error (for logs only).
type ParseError struct {
	Index  int    // position of the command in the body; 0 for a single command
	Method string // method named by the command, if it got that far
	Kind   error
	Cause  error
}

func (e *ParseError) Error() string {
	msg := fmt.Sprintf("command %d", e.Index)
	if e.Method != "" {
		msg += fmt.Sprintf(" (%s)", e.Method)
	}
	msg += ": " + e.Kind.Error()
	if e.Cause != nil {
		msg += ": " + e.Cause.Error()
	}
	return msg
}

// Unwrap lets errors.Is find both the kind and the cause.
func (e *ParseError) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Cause}
}

// replyError is the v1 shape of a failed command: error text and advice.
type replyError struct {
	text   string
	advice string
}

// statusTable is the one mapping from the core's gRPC status codes to v1
// errors. The core answers NotFound for an unknown namespace and
// FailedPrecondition when history or presence is off for the channel's
// namespace; Unimplemented is treated the same (a core without the feature).
// Codes not listed are server-side failures: "internal server error" with
// advice "retry", never the status message itself.
var statusTable = map[codes.Code]replyError{
	codes.InvalidArgument:    {textInvalidMessage, adviceFix},
	codes.NotFound:           {textNamespaceNotFound, adviceFix},
	codes.FailedPrecondition: {textNotAvailable, adviceNone},
	codes.Unimplemented:      {textNotAvailable, adviceNone},
	// An engine outage: v1 answered a failed engine call this way, and
	// "retry" is what tells a backend to try again.
	codes.Unavailable:      {textInternal, adviceRetry},
	codes.DeadlineExceeded: {textInternal, adviceRetry},
}

var internalReplyError = replyError{textInternal, adviceRetry}

// toReplyError turns an error from the face's own checks or from an RPC into
// the v1 error of a reply.
func toReplyError(err error) replyError {
	switch {
	case errors.Is(err, ErrInvalidMessage):
		return replyError{textInvalidMessage, adviceFix}
	case errors.Is(err, ErrMethodNotFound):
		return replyError{textMethodNotFound, adviceFix}
	}
	if st, ok := status.FromError(err); ok {
		if re, ok := statusTable[st.Code()]; ok {
			return re
		}
	}
	return internalReplyError
}
