package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The face's error answers are grpc-gateway's: the HTTP status of the gRPC
// code and a {"code","message","details"} body (unset members omitted, see
// Marshaler). The gateway maps the core's statuses itself
// (runtime.HTTPStatusFromCode: UNAUTHENTICATED 401, UNAVAILABLE 503, ...);
// the answers below are the ones the face gives on its own.

// Messages of the face's own answers.
const (
	msgMissingCredentials = `missing credentials: send "authorization: apikey <api_secret>" or "authorization: bearer <token>"`
	msgInvalidAPIKey      = "invalid api key"
	msgUnknownScheme      = "unknown authorization scheme: use apikey or bearer"
	msgShutdown           = "server shutting down"
)

// writeError answers with httpStatus and the body of st. httpStatus 0 means
// the status's own mapping.
func writeError(mux *runtime.ServeMux, w http.ResponseWriter, r *http.Request, httpStatus int, st *status.Status) {
	var err error = st.Err()
	if httpStatus != 0 {
		err = &runtime.HTTPStatusError{HTTPStatus: httpStatus, Err: err}
	}
	runtime.HTTPError(r.Context(), mux, Marshaler, w, r, err)
}

// tooLarge is the answer to a body over the bound: 413 and
// RESOURCE_EXHAUSTED, the code gRPC gives a message over its size limit.
func tooLarge(mux *runtime.ServeMux, w http.ResponseWriter, r *http.Request, limit int64) {
	// The rest of the body is not read; the connection cannot be reused.
	w.Header().Set("Connection", "close")
	writeError(mux, w, r, http.StatusRequestEntityTooLarge,
		status.Newf(codes.ResourceExhausted, "request body is larger than %d bytes", limit))
}

// routingError answers a request that matches no route. A path served with
// another method is 405 with an Allow header (grpc-gateway's default would
// be 501 UNIMPLEMENTED); the rest is the default.
func routingError(allow map[string]string) runtime.RoutingErrorHandlerFunc {
	return func(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
		if httpStatus != http.StatusMethodNotAllowed {
			runtime.DefaultRoutingErrorHandler(ctx, mux, m, w, r, httpStatus)
			return
		}
		msg := fmt.Sprintf("method %s is not allowed on %s", r.Method, r.URL.Path)
		if a := allow[r.URL.Path]; a != "" {
			w.Header().Set("Allow", a)
			msg += ": use " + a
		}
		writeError(mux, w, r, http.StatusMethodNotAllowed, status.New(codes.Unimplemented, msg))
	}
}

// streamError is the last {"error":...} line of a stream that failed after
// it began. A stream cut because the process is stopping ends UNAVAILABLE,
// as the core's own streams do, whichever side noticed first.
func streamError(life context.Context) runtime.StreamErrorHandlerFunc {
	return func(ctx context.Context, err error) *status.Status {
		st := status.Convert(err)
		if life.Err() != nil && (st.Code() == codes.Canceled || errors.Is(err, context.Canceled)) {
			return status.New(codes.Unavailable, msgShutdown)
		}
		return st
	}
}

// allowedMethods reads the methods of every path of an OpenAPI (v2)
// document: path → "GET, POST".
func allowedMethods(doc []byte) (map[string]string, error) {
	if doc == nil {
		return nil, nil
	}
	var spec struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(doc, &spec); err != nil {
		return nil, fmt.Errorf("gateway: OpenAPI document: %w", err)
	}
	out := make(map[string]string, len(spec.Paths))
	for path, ops := range spec.Paths {
		var methods []string
		for m := range ops {
			switch m = strings.ToUpper(m); m {
			case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
				methods = append(methods, m)
			}
		}
		slices.Sort(methods)
		out[path] = strings.Join(methods, ", ")
	}
	return out, nil
}
