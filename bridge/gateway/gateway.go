// Package gateway serves the REST/JSON face of the gRPC services through
// grpc-gateway. It is a gRPC client like every other face: it forwards the
// caller's Authorization header and never holds credentials of its own
// towards the core.
//
// JSON conventions, chosen once: field names as in the .proto files
// (snake_case), unset fields omitted, enums as names, 64-bit integers as
// strings (proto3 JSON). Streaming RPCs answer newline-delimited JSON: one
// {"result":{...}} object per line, and a last {"error":{...}} line if the
// stream fails after it began.
//
// In front of the mux a guard checks credentials before any body is read
// (the core checks them again, as for every caller) and bounds the body
// (guard.go); errors.go holds the face's own error answers.
package gateway

import (
	"context"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/token"
)

// Marshaler is the JSON encoding of the REST face.
var Marshaler = &runtime.JSONPb{
	MarshalOptions:   protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: false},
	UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
}

// DefaultMaxBodyBytes bounds a request body when Options.MaxBodyBytes is 0.
const DefaultMaxBodyBytes = 1 << 20

// Options configure the REST face. The app fills them from its config.
type Options struct {
	// APIKey is api_secret: "authorization: apikey <APIKey>" passes the guard.
	APIKey string
	// TokenSecret is token_secret: "authorization: bearer <JWT>" passes the
	// guard when the token verifies with it (package token).
	TokenSecret []byte
	// Insecure lets requests without an Authorization header through to the
	// core (api_insecure, or no api_secret on loopback). A header that is
	// present is checked all the same, as the core does.
	Insecure bool
	// MaxBodyBytes bounds a request body (0: DefaultMaxBodyBytes). A larger
	// body is answered 413 without being read past the bound.
	MaxBodyBytes int64
	// OpenAPI is the OpenAPI document of the routes; the Allow header of a
	// 405 answer comes from its paths. Nil: 405 answers carry no Allow.
	OpenAPI []byte
}

// Register adds a service's routes to the mux.
type Register func(ctx context.Context, mux *runtime.ServeMux, conn grpc.ClientConnInterface) error

// Client makes a Register of a generated Register…HandlerClient function
// and the service's client constructor.
func Client[C any](register func(context.Context, *runtime.ServeMux, C) error, newClient func(grpc.ClientConnInterface) C) Register {
	return func(ctx context.Context, mux *runtime.ServeMux, conn grpc.ClientConnInterface) error {
		return register(ctx, mux, newClient(conn))
	}
}

// New returns the REST handler for every service on conn. Extra services
// (added by faces that bring their own service) are registered too. ctx is
// the process's lifetime: a stream cut because it ended reads as the
// shutdown it is (UNAVAILABLE), not as a cancelled request. conn may run
// unary calls in process: the gateway needs no transport of its own.
func New(ctx context.Context, conn grpc.ClientConnInterface, opts Options, extra ...Register) (http.Handler, error) {
	if opts.MaxBodyBytes == 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	allow, err := allowedMethods(opts.OpenAPI)
	if err != nil {
		return nil, err
	}
	mux := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, Marshaler),
		runtime.WithMetadata(func(context.Context, *http.Request) metadata.MD {
			return metadata.Pairs(token.FaceKey, "rest")
		}),
		runtime.WithRoutingErrorHandler(routingError(allow)),
		runtime.WithStreamErrorHandler(streamError(ctx)),
	)
	regs := append([]Register{
		Client(pb.RegisterHubServiceHandlerClient, pb.NewHubServiceClient),
		Client(pb.RegisterSessionServiceHandlerClient, pb.NewSessionServiceClient),
	}, extra...)
	for _, r := range regs {
		if err := r(ctx, mux, conn); err != nil {
			return nil, err
		}
	}
	return &guard{next: mux, mux: mux, opts: opts}, nil
}
