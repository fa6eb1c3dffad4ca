// Package gateway serves the REST/JSON face of the gRPC services through
// grpc-gateway. It is a gRPC client like every other face: it forwards the
// caller's Authorization header and never holds credentials of its own.
//
// JSON conventions, chosen once: field names as in the .proto files
// (snake_case), unset fields omitted, enums as names, 64-bit integers as
// strings (proto3 JSON). Streaming RPCs answer newline-delimited JSON: one
// {"result":{...}} object per line, and a last {"error":{...}} line if the
// stream fails after it began.
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

// Register adds a service's routes to the mux.
type Register func(ctx context.Context, mux *runtime.ServeMux, conn *grpc.ClientConn) error

// New returns the REST handler for every service on conn. Extra services
// (added by faces that bring their own service) are registered too.
func New(ctx context.Context, conn *grpc.ClientConn, extra ...Register) (http.Handler, error) {
	mux := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, Marshaler),
		runtime.WithMetadata(func(context.Context, *http.Request) metadata.MD {
			return metadata.Pairs(token.FaceKey, "rest")
		}),
	)
	regs := append([]Register{pb.RegisterHubServiceHandler, pb.RegisterSessionServiceHandler}, extra...)
	for _, r := range regs {
		if err := r(ctx, mux, conn); err != nil {
			return nil, err
		}
	}
	return mux, nil
}
