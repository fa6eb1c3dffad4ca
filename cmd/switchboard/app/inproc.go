package app

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// localConn is the faces' connection to the core in the same process.
// Unary calls go straight to the registered handler, through the same
// interceptors as calls from the network (recovery, metrics, auth) but with
// no HTTP/2 framing, no serialization and no goroutine hand-off: a face
// makes several such calls per websocket it accepts, and over the
// in-memory gRPC transport they cost more CPU than everything else in a
// connection's set-up. Streams keep going over the in-memory transport
// (streams), where flow control and the hub's bounded queues apply.
//
// Requests and replies are copied, as over a wire: neither side may keep or
// change the other's message.
type localConn struct {
	streams     grpc.ClientConnInterface
	md          metadata.MD // credentials presented on every call
	interceptor grpc.UnaryServerInterceptor
	methods     map[string]localMethod // by full method name
}

type localMethod struct {
	srv     any
	handler grpc.MethodHandler
}

// newLocalConn returns a connection whose unary calls run the handlers
// registered with RegisterService, presenting md as incoming metadata and
// passing through the interceptors in order.
func newLocalConn(streams grpc.ClientConnInterface, md metadata.MD, interceptors ...grpc.UnaryServerInterceptor) *localConn {
	return &localConn{
		streams:     streams,
		md:          md,
		interceptor: chainUnary(interceptors),
		methods:     make(map[string]localMethod),
	}
}

// RegisterService implements grpc.ServiceRegistrar, so that a service is
// registered here as on a grpc.Server.
func (c *localConn) RegisterService(desc *grpc.ServiceDesc, impl any) {
	for _, m := range desc.Methods {
		c.methods["/"+desc.ServiceName+"/"+m.MethodName] = localMethod{srv: impl, handler: m.Handler}
	}
}

// Invoke runs a unary call in the caller's goroutine.
func (c *localConn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	m, ok := c.methods[method]
	if !ok {
		return c.streams.Invoke(ctx, method, args, reply, opts...)
	}
	in, ok1 := args.(proto.Message)
	out, ok2 := reply.(proto.Message)
	if !ok1 || !ok2 {
		return fmt.Errorf("local call %s: messages must be protobuf messages", method)
	}
	md := c.md
	if outgoing, ok := metadata.FromOutgoingContext(ctx); ok {
		md = metadata.Join(outgoing, c.md)
	}
	dec := func(v any) error {
		proto.Merge(v.(proto.Message), in)
		return nil
	}
	resp, err := m.handler(m.srv, metadata.NewIncomingContext(ctx, md), dec, c.interceptor)
	if err != nil {
		// What a client over the network gets: a status, Unknown for a
		// plain error.
		return status.Convert(err).Err()
	}
	proto.Reset(out)
	proto.Merge(out, resp.(proto.Message))
	return nil
}

// NewStream opens streams over the in-memory transport.
func (c *localConn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return c.streams.NewStream(ctx, desc, method, opts...)
}

// chainUnary makes one interceptor of several, the first outermost (as
// grpc.ChainUnaryInterceptor does for a server).
func chainUnary(chain []grpc.UnaryServerInterceptor) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		next := h
		for i := len(chain) - 1; i >= 0; i-- {
			ic, inner := chain[i], next
			next = func(ctx context.Context, req any) (any, error) { return ic(ctx, req, info, inner) }
		}
		return next(ctx, req)
	}
}
