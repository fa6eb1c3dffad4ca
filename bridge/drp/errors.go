package drp

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/coder/websocket"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Close codes and reasons this face sends in websocket close frames. DRP
// itself only ever dropped connections (melody); these say why.
const (
	// closeShutdown: the server is stopping.
	closeShutdown  = websocket.StatusGoingAway
	reasonShutdown = "server shutting down"
	// closeUnavailable: the socket's upstream subscription could not be
	// opened, or it ended; the client should reconnect and register again.
	closeUnavailable    = websocket.StatusTryAgainLater
	reasonUnavailable   = "event hub unavailable"
	reasonUpstreamEnded = "event stream ended"
	// closeEventsLost (private-use range): the socket's upstream stream
	// ended with DATA_LOSS, events were lost while the node's link to the
	// engine was down and could not be recovered. Every event before the
	// loss was sent first; the client reconnects, registers again and
	// re-reads the objects it watches.
	closeEventsLost  websocket.StatusCode = 4001
	reasonEventsLost                      = "events lost; reconnect and resync"
	// closeTooManyFilters: the socket registered more than maxFilters
	// distinct filters.
	closeTooManyFilters  = websocket.StatusPolicyViolation
	reasonTooManyFilters = "too many filters"
)

// The models.Error JSON of DRP (models/errors.go), used for every error
// answer of POST /api/v3/events. Keys in this order, all always present.
type drpError struct {
	Model    string   `json:"Model"`
	Key      string   `json:"Key"`
	Type     string   `json:"Type"`
	Messages []string `json:"Messages"`
	Code     int      `json:"Code"`
}

// Error types DRP uses (frontend/frontend.go, frontend/events.go). Decode
// and content-type errors carry the request method as Type, as DRP's
// assureDecode does.
const (
	errTypeAPI        = "API_ERROR"
	errTypeAuth       = "AUTH"
	errTypeValidation = "ValidationError"
)

// Models named in this face's errors: the events API (the default), the
// users API (tokens) and none (a path that is not provided).
const (
	errModel   = "events"
	modelUsers = "users"
	modelNone  = ""
)

// writeError answers with a models.Error body of the events API.
func writeError(w http.ResponseWriter, code int, typ string, msgs ...string) {
	writeErrorOf(w, errModel, "", code, typ, msgs...)
}

// writeErrorOf answers with a models.Error body for model and key.
func writeErrorOf(w http.ResponseWriter, model, key string, code int, typ string, msgs ...string) {
	if msgs == nil {
		msgs = []string{}
	}
	body, err := json.Marshal(drpError{Model: model, Key: key, Type: typ, Messages: msgs, Code: code})
	if err != nil {
		// Strings only; cannot fail. Fall back to a bare status.
		w.WriteHeader(code)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// hubError is the one table from a HubService status to this face's answer.
// Messages of invalid-input statuses are shown with the canonical field
// names turned into DRP's; anything else shows a fixed text, never the
// core's internal details.
func hubError(err error) (code int, typ, msg string) {
	st, _ := status.FromError(err)
	switch st.Code() {
	case codes.InvalidArgument, codes.NotFound, codes.FailedPrecondition, codes.OutOfRange:
		return http.StatusUnprocessableEntity, errTypeValidation, drpFieldNames.Replace(st.Message())
	case codes.PermissionDenied:
		return http.StatusForbidden, errTypeAuth, st.Message()
	case codes.ResourceExhausted:
		return http.StatusTooManyRequests, errTypeAPI, "event hub is overloaded; retry later"
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled:
		return http.StatusServiceUnavailable, errTypeAPI, reasonUnavailable
	default:
		return http.StatusInternalServerError, errTypeAPI, "internal error"
	}
}

// drpFieldNames renames the canonical event fields named in the hub's
// validation messages (README mapping table).
var drpFieldNames = strings.NewReplacer(
	"event.channel", "Type",
	"event.name", "Action",
	"event.key", "Key",
	"event.data", "Object",
	"event.previous", "Original",
	"event.publisher.user", "Principal",
	"event.time", "Time",
)

// refusedByHub tells a request the hub will never accept from an error that
// may pass (the hub unreachable, the socket gone).
func refusedByHub(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	switch status.Code(err) {
	case codes.InvalidArgument, codes.NotFound, codes.FailedPrecondition, codes.OutOfRange:
		return true
	}
	return false
}

// eventsLost: an upstream stream ended because events were lost
// (DATA_LOSS): the socket gets what came before, then closeEventsLost.
func eventsLost(err error) bool { return status.Code(err) == codes.DataLoss }

// unreachable: the core could not answer (a login fails with 503, not 403).
func unreachable(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled:
		return true
	}
	return false
}
