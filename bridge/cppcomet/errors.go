package cppcomet

import (
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// errorShape is the form of `data` in a `sys`/`error` message (§3.4): the
// C++ server adds a different dummy field per command family.
type errorShape uint8

const (
	// shapeMessages: {"error":..., "number_messages":-1} (most commands).
	shapeMessages errorShape = iota
	// shapeCode: {"code":"403","error":...} (subscription limits).
	shapeCode
	// shapeUsers: {"error":..., "number_users":-1} (track_pipe_users).
	shapeUsers
	// shapeUserData: {"error":..., "user_data":"", "user_id":-1} (user_data).
	shapeUserData
)

// ProtocolError is a command the server refuses with its own error message.
// The connection stays open unless Close is set.
type ProtocolError struct {
	Text  string
	Shape errorShape
	Close bool // close the connection after sending the error (§4)
}

func (e *ProtocolError) Error() string { return "cppcomet: " + e.Text }

// Error texts, as comet-server sends them (§3.3, §3.4).
const (
	textChannelChars   = "The channel name can only contain characters A-Za-z0-9_-"
	textPipeNameLength = "Invalid pipe name length"
	textPipeName       = "Invalid pipe name."
	textEventChars     = "The event name can only contain characters A-Za-z0-9_-"
	textEventLength    = "Invalid event name length"
	textMarkerValue    = "Invalid marker value."
	textMarkerName     = "Invalid marker name."
	textUserID         = "Invalid user id"
	textAuthType       = "Invalid value auth_type"
	textWebPipePrefix  = "[pipe_msg2] Invalid channel name. The channel should begin with web_"
	textWebAuthAnon    = "[webauth_pipe_msg2] Invalid user auth. In to channel with name like webauth_* can not send messages anonim users"
	textPipeCountName  = "[pipe_count] Invalid channel name. The channel should start with web_"
	textTrackName      = "[track_pipe_users] Invalid channel name. The channel should start with track_"
	textTooMany        = "Too many letters"
	textNameTooLong    = "Channel name is too long"
	// Not comet-server's: it never checked (browsers send UTF-8 only).
	textNotUTF8 = "Invalid message: not UTF-8"
)

// subscriptionErrorCode is the `code` of subscription limit errors.
const subscriptionErrorCode = "403"

// Texts for failures of the core, by gRPC code. They never carry the
// core's own message, which may hold internal details, except for
// InvalidArgument, whose message tells the client what to fix (e.g. a
// payload over max_payload_bytes).
const (
	textUnavailable   = "Server temporarily unavailable"
	textNotAvailable  = "Not available for this pipe"
	textDenied        = "Access denied"
	textInternalError = "Internal server error"
)

// statusError turns a failed call to the core into the face's error message
// (the one gRPC code → face error table of this face).
func statusError(err error, shape errorShape) *ProtocolError {
	st := status.Convert(err)
	text := textInternalError
	switch st.Code() {
	case codes.InvalidArgument:
		text = st.Message()
	case codes.FailedPrecondition, codes.NotFound, codes.OutOfRange:
		text = textNotAvailable
	case codes.PermissionDenied, codes.Unauthenticated:
		text = textDenied
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled, codes.ResourceExhausted:
		text = textUnavailable
	}
	return &ProtocolError{Text: text, Shape: shape}
}

// noHistory: the pipe keeps no history, so pipe_log has no reply (§3.3).
func noHistory(err error) bool { return status.Code(err) == codes.FailedPrecondition }

// eventsLost: an upstream stream ended because events were lost (DATA_LOSS,
// README "Operations").
func eventsLost(err error) bool { return status.Code(err) == codes.DataLoss }

// HandshakeError rejects a connection at the URL or Origin stage (§2, §4):
// it is sent as one `sys`/`error` message, then TCP is dropped.
type HandshakeError struct {
	Code int    // 401, 406, 418, 423
	Text string // the full "Error code N(...)" text
}

func (e *HandshakeError) Error() string { return "cppcomet: handshake: " + e.Text }

// Handshake errors, texts byte for byte as comet-server writes them
// (`Client_connection::parse_url`; the 418 text really ends with "\n").
var (
	errNoSession = &HandshakeError{401, "Error code 401(Invalid request, session ID not found)"}
	errNoUserID  = &HandshakeError{401, "Error code 401(Invalid request, the user ID can not be found)"}
	errNoDevID   = &HandshakeError{406, "Error code 406(Invalid request, no public key found [1])"}
	errNoVersion = &HandshakeError{418, "Error code 418(Invalid request Not assigned client api version)\n"}
	errOrigin    = &HandshakeError{423, "Error code 423(Access denied, Request from unauthorized domain.)"}
)

// handshakeInfo is the `info` field of handshake errors.
const handshakeInfo = "Closed due to error. See last message."
