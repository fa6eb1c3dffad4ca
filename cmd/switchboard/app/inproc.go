package app

import (
	"context"
	"fmt"
	"io"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// localConn is the faces' connection to the core in the same process.
// Calls go straight to the registered handlers, through the same
// interceptors as calls from the network (recovery, metrics, auth), with
// no HTTP/2 framing and no serialization: a face makes several unary calls
// per websocket it accepts and holds one Subscribe stream per filter set,
// and over an in-memory gRPC transport those cost more CPU and memory than
// the rest of a connection. Unary calls run in the caller's goroutine; a
// server stream runs its handler on a goroutine of its own and hands each
// message over unbuffered, so a reader that stops reading blocks the
// handler's Send as flow control would, and the hub's bounded queue takes
// the strain. Anything else (client or bidi streams) goes over streams.
//
// Requests and messages are copied, as over a wire: neither side may keep
// or change the other's message.
type localConn struct {
	streams     grpc.ClientConnInterface
	md          metadata.MD // credentials presented on every call
	interceptor grpc.UnaryServerInterceptor
	streamIC    grpc.StreamServerInterceptor
	methods     map[string]localMethod // by full method name
	serverSide  map[string]localStream // server-streaming methods
}

type localMethod struct {
	srv     any
	handler grpc.MethodHandler
}

type localStream struct {
	srv     any
	handler grpc.StreamHandler
}

// newLocalConn returns a connection whose unary calls run the handlers
// registered with RegisterService, presenting md as incoming metadata and
// passing through the interceptors in order.
func newLocalConn(streams grpc.ClientConnInterface, md metadata.MD, unary []grpc.UnaryServerInterceptor, stream []grpc.StreamServerInterceptor) *localConn {
	return &localConn{
		streams:     streams,
		md:          md,
		interceptor: chainUnary(unary),
		streamIC:    chainStream(stream),
		methods:     make(map[string]localMethod),
		serverSide:  make(map[string]localStream),
	}
}

// RegisterService implements grpc.ServiceRegistrar, so that a service is
// registered here as on a grpc.Server.
func (c *localConn) RegisterService(desc *grpc.ServiceDesc, impl any) {
	for _, m := range desc.Methods {
		c.methods["/"+desc.ServiceName+"/"+m.MethodName] = localMethod{srv: impl, handler: m.Handler}
	}
	for _, st := range desc.Streams {
		if st.ServerStreams && !st.ClientStreams {
			c.serverSide["/"+desc.ServiceName+"/"+st.StreamName] = localStream{srv: impl, handler: st.Handler}
		}
	}
}

// incoming is the metadata the handler sees: the caller's outgoing
// metadata and the connection's credentials.
func (c *localConn) incoming(ctx context.Context) context.Context {
	md := c.md
	if outgoing, ok := metadata.FromOutgoingContext(ctx); ok {
		md = metadata.Join(outgoing, c.md)
	}
	return metadata.NewIncomingContext(ctx, md)
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
	dec := func(v any) error {
		proto.Merge(v.(proto.Message), in)
		return nil
	}
	resp, err := m.handler(m.srv, c.incoming(ctx), dec, c.interceptor)
	if err != nil {
		// What a client over the network gets: a status, Unknown for a
		// plain error.
		return status.Convert(err).Err()
	}
	proto.Reset(out)
	proto.Merge(out, resp.(proto.Message))
	return nil
}

// NewStream opens a server stream in process; other streams go over the
// in-memory transport. The handler starts with the request (SendMsg).
func (c *localConn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	st, ok := c.serverSide[method]
	if !ok || desc.ClientStreams || !desc.ServerStreams {
		return c.streams.NewStream(ctx, desc, method, opts...)
	}
	sctx, cancel := context.WithCancel(c.incoming(ctx))
	return &localClientStream{
		ctx:  ctx,
		conn: c,
		st:   st,
		info: &grpc.StreamServerInfo{FullMethod: method, IsServerStream: true},
		srv: &localServerStream{
			ctx:        sctx,
			cancel:     cancel,
			msgs:       make(chan proto.Message, localStreamBuffer),
			done:       make(chan struct{}),
			headerSent: make(chan struct{}),
		},
	}, nil
}

// localServerStream is the handler's side of an in-process server stream.
type localServerStream struct {
	ctx    context.Context // the caller's, with incoming metadata; ends with the stream
	cancel context.CancelFunc
	req    proto.Message // the request, read once by RecvMsg
	msgs   chan proto.Message
	done   chan struct{} // closed when the handler has returned; err is then set
	err    error

	// Headers: set until sent (SendHeader, the first message, or the
	// handler's return), then read by the caller's Header.
	header     metadata.MD
	headerOnce sync.Once
	headerSent chan struct{}
}

// sendHeader marks the headers sent; later SetHeader calls are too late,
// as over a network.
func (s *localServerStream) sendHeader() {
	s.headerOnce.Do(func() {
		if s.header == nil {
			s.header = metadata.MD{}
		}
		close(s.headerSent)
	})
}

func (s *localServerStream) Context() context.Context { return s.ctx }

func (s *localServerStream) SetHeader(md metadata.MD) error {
	select {
	case <-s.headerSent:
		return status.Error(codes.Internal, "local stream: headers already sent")
	default:
	}
	s.header = metadata.Join(s.header, md)
	return nil
}

func (s *localServerStream) SendHeader(md metadata.MD) error {
	if err := s.SetHeader(md); err != nil {
		return err
	}
	s.sendHeader()
	return nil
}

func (s *localServerStream) SetTrailer(metadata.MD) {}

func (s *localServerStream) SendMsg(m any) error {
	s.sendHeader()
	select {
	case s.msgs <- proto.Clone(m.(proto.Message)):
		return nil
	case <-s.ctx.Done():
		return status.FromContextError(s.ctx.Err()).Err()
	}
}

func (s *localServerStream) RecvMsg(m any) error {
	if s.req == nil {
		return io.EOF
	}
	proto.Merge(m.(proto.Message), s.req)
	s.req = nil
	return nil
}

// localClientStream is the caller's side.
type localClientStream struct {
	ctx     context.Context
	conn    *localConn
	st      localStream
	info    *grpc.StreamServerInfo
	srv     *localServerStream
	started bool
}

// SendMsg takes the one request and starts the handler.
func (s *localClientStream) SendMsg(m any) error {
	if s.started {
		return status.Error(codes.Internal, "local stream: a server stream takes one request")
	}
	s.started = true
	s.srv.req = proto.Clone(m.(proto.Message))
	go func() {
		err := s.conn.streamIC(s.st.srv, s.srv, s.info, s.st.handler)
		if err != nil {
			err = status.Convert(err).Err()
		}
		s.srv.err = err
		if err == nil {
			s.srv.sendHeader()
		}
		close(s.srv.done)
		s.srv.cancel()
	}()
	return nil
}

func (s *localClientStream) RecvMsg(m any) error {
	select {
	case msg := <-s.srv.msgs:
		proto.Merge(m.(proto.Message), msg)
		return nil
	case <-s.srv.done:
		// Messages sent before the handler returned come first.
		select {
		case msg := <-s.srv.msgs:
			proto.Merge(m.(proto.Message), msg)
			return nil
		default:
		}
		if s.srv.err != nil {
			return s.srv.err
		}
		return io.EOF
	case <-s.ctx.Done():
		return status.FromContextError(s.ctx.Err()).Err()
	}
}

// Header waits for the handler's headers; nil when the stream ended
// without any (RecvMsg says why).
func (s *localClientStream) Header() (metadata.MD, error) {
	select {
	case <-s.srv.headerSent:
		return s.srv.header, nil
	case <-s.srv.done:
		select {
		case <-s.srv.headerSent:
			return s.srv.header, nil
		default:
			return nil, s.srv.err
		}
	case <-s.ctx.Done():
		return nil, status.FromContextError(s.ctx.Err()).Err()
	}
}
func (s *localClientStream) Trailer() metadata.MD     { return nil }
func (s *localClientStream) CloseSend() error         { return nil }
func (s *localClientStream) Context() context.Context { return s.ctx }

// chainStream makes one stream interceptor of several, the first outermost.
func chainStream(chain []grpc.StreamServerInterceptor) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		next := h
		for i := len(chain) - 1; i >= 0; i-- {
			ic, inner := chain[i], next
			next = func(srv any, ss grpc.ServerStream) error { return ic(srv, ss, info, inner) }
		}
		return next(srv, ss)
	}
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

// localStreamBuffer is how many messages a server stream may run ahead of
// its reader, as a transport's flow-control window lets it: the handler
// is not woken for every message, and its reader takes bursts.
const localStreamBuffer = 32
