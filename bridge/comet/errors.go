package comet

import (
	"net/http"

	"github.com/coder/websocket"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/switchboard-hub/switchboard/bridge/wsconn"
)

// reasonTOTPRequired is the ErrorInfo reason AdminService puts on the
// FAILED_PRECONDITION of a right password that needs a TOTP code too
// (admin.proto).
const reasonTOTPRequired = "TOTP_REQUIRED"

// Comet's answer to a password-only login that needs more (§2.1, §4).
const (
	headerTOTPRequested = "X-Comet-TOTP-Requested"
	statusRetryWith     = 449
	msgTOTPRequired     = "ERR_TOTP_REQUIRED"
)

// apiError is what an API call answers for a refused or failed call.
type apiError struct {
	status  int
	message string
	totp    bool // add X-Comet-TOTP-Requested: 1
}

// toAPIError is the one table from a gRPC status to Comet's answer. Texts
// of internal errors never reach the client.
func toAPIError(err error) apiError {
	st, _ := status.FromError(err)
	switch st.Code() {
	case codes.Unauthenticated:
		return apiError{status: http.StatusForbidden, message: "Invalid user or password"}
	case codes.FailedPrecondition:
		if totpRequired(st) {
			return apiError{status: statusRetryWith, message: msgTOTPRequired, totp: true}
		}
		return apiError{status: http.StatusBadRequest, message: st.Message()}
	case codes.InvalidArgument:
		return apiError{status: http.StatusBadRequest, message: st.Message()}
	case codes.Unimplemented:
		return apiError{status: http.StatusBadRequest, message: st.Message()}
	case codes.ResourceExhausted:
		return apiError{status: http.StatusTooManyRequests, message: st.Message()}
	case codes.PermissionDenied:
		return apiError{status: http.StatusForbidden, message: "Permission denied"}
	case codes.NotFound:
		return apiError{status: http.StatusNotFound, message: st.Message()}
	case codes.Unavailable:
		return apiError{status: http.StatusServiceUnavailable, message: "Service unavailable"}
	case codes.Canceled, codes.DeadlineExceeded:
		return apiError{status: http.StatusServiceUnavailable, message: "Request cancelled"}
	default:
		return apiError{status: http.StatusInternalServerError, message: "Internal error"}
	}
}

func totpRequired(st *status.Status) bool {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetReason() == reasonTOTPRequired {
			return true
		}
	}
	return false
}

// write answers the error in Comet's CometAPIResponseMessage shape.
func (e apiError) write(w http.ResponseWriter) {
	if e.totp {
		w.Header().Set(headerTOTPRequested, "1")
	}
	writeJSON(w, e.status, APIResponse{Status: e.status, Message: e.message})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(mustJSON(v))
}

// streamEndClose is the close of an event stream whose upstream ended with
// err: a slow consumer, a shutdown, or (unexpected) anything else.
func streamEndClose(err error) (code websocket.StatusCode, reason string, unexpected bool) {
	switch status.Code(err) {
	case codes.ResourceExhausted:
		return websocket.StatusPolicyViolation, wsconn.ReasonSlowConsumer, false
	case codes.Unavailable, codes.Canceled:
		return websocket.StatusGoingAway, reasonShutdown, false
	}
	return websocket.StatusInternalError, reasonUpstream, true
}
