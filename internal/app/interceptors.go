package app

import (
	"context"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

var grpcRequests = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "switchboard_grpc_requests_total",
	Help: "gRPC calls handled, by method and status code (streams count when they end).",
}, []string{"method", "code"})

// methodCode is one child of grpcRequests.
type methodCode struct {
	method string
	code   codes.Code
}

// grpcCounters holds the children of grpcRequests resolved so far: a call
// looks its child up by method and code instead of hashing and checking
// the label values each time.
var grpcCounters sync.Map // methodCode → prometheus.Counter

func countCall(method string, err error) {
	k := methodCode{method, status.Code(err)}
	c, ok := grpcCounters.Load(k)
	if !ok {
		c, _ = grpcCounters.LoadOrStore(k, grpcRequests.WithLabelValues(method, k.code.String()))
	}
	c.(prometheus.Counter).Inc()
}

func metricsUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	resp, err := h(ctx, req)
	countCall(info.FullMethod, err)
	return resp, err
}

func metricsStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	err := h(srv, ss)
	countCall(info.FullMethod, err)
	return err
}

// recoverUnary turns a panic in a handler into INTERNAL and a log line: one
// bad request never takes the process down.
func recoverUnary(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if r := recover(); r != nil {
				log.Error("panic in handler", "method", info.FullMethod, "panic", r, "stack", string(debug.Stack()))
				err = status.Error(codes.Internal, "internal error")
			}
		}()
		return h(ctx, req)
	}
}

func recoverStream(log *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
		defer func() {
			if r := recover(); r != nil {
				log.Error("panic in handler", "method", info.FullMethod, "panic", r, "stack", string(debug.Stack()))
				err = status.Error(codes.Internal, "internal error")
			}
		}()
		return h(srv, ss)
	}
}

// callCounts counts the gRPC (and so REST) calls of outside callers for the
// node stats: user-token calls are client requests, every other call (api
// key, or none in insecure mode) an API request. The node's own faces call
// with the internal key and are not counted here: they count their own
// clients' requests.
type callCounts struct {
	internal    string // "apikey <internal key>"
	api, client atomic.Uint64
}

func (c *callCounts) count(ctx context.Context) {
	var auth string
	if v := metadata.ValueFromIncomingContext(ctx, "authorization"); len(v) > 0 {
		auth = v[0]
	}
	switch {
	case auth == c.internal:
	case len(auth) > 7 && strings.EqualFold(auth[:7], "bearer "):
		c.client.Add(1)
	default:
		c.api.Add(1)
	}
}

func (c *callCounts) unary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	c.count(ctx)
	return h(ctx, req)
}

func (c *callCounts) stream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	c.count(ss.Context())
	return h(srv, ss)
}
