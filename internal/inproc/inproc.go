// Package inproc is a gRPC client connection to services registered in the
// same process. Calls go straight to the registered handlers, through the
// same interceptors as calls from the network (recovery, metrics, auth),
// with no HTTP/2 framing and no serialization. It sits on every event's path
// between the faces and the core when both run in one process.
package inproc

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
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Conn is a grpc.ClientConnInterface whose calls run the handlers
// registered on it (RegisterService, as on a grpc.Server):
//
//   - a unary call runs in the caller's goroutine;
//   - a server stream runs its handler on a goroutine of its own, which
//     ends when the handler returns; messages are handed over on a channel
//     of StreamBuffer messages, so the handler may run that far ahead of
//     its reader (as a transport's flow-control window lets it), and a
//     reader that stops reading then blocks the handler's Send until the
//     stream's context ends;
//   - anything else (client or bidi streams, methods not registered here)
//     goes to the fallback connection.
//
// A face makes several unary calls per websocket it accepts and holds one
// Subscribe stream per filter set; over an in-memory gRPC transport those
// cost more CPU and memory than the rest of a connection.
//
// Requests and unary replies are copied, as over a wire. Messages of a
// server stream are not: they are immutable by contract. A handler must not
// change a message after Send (the hub sends events it shares among
// streams, and builds every other message for one Send), and the caller
// gets the message's fields as they were sent (a shallow copy, whose
// sub-messages, lists and bytes are the sender's) and must not change them.
// That saves a deep copy of every event on the hottest path.
type Conn struct {
	streams     grpc.ClientConnInterface
	md          metadata.MD // credentials presented on every call
	interceptor grpc.UnaryServerInterceptor
	streamIC    grpc.StreamServerInterceptor
	methods     map[string]localMethod // by full method name
	serverSide  map[string]localStream // server-streaming methods

	mu      sync.Mutex
	closed  bool
	running sync.WaitGroup // handlers in progress (unary calls, stream goroutines)
}

var (
	_ grpc.ClientConnInterface = (*Conn)(nil)
	_ grpc.ServiceRegistrar    = (*Conn)(nil)
)

type localMethod struct {
	srv     any
	handler grpc.MethodHandler
}

type localStream struct {
	srv     any
	handler grpc.StreamHandler
}

// New returns a connection whose calls run the handlers registered with
// RegisterService, presenting md as incoming metadata and passing through
// the interceptors in order (the first outermost). Calls it cannot serve go
// to fallback, which may be set later with SetFallback.
func New(fallback grpc.ClientConnInterface, md metadata.MD, unary []grpc.UnaryServerInterceptor, stream []grpc.StreamServerInterceptor) *Conn {
	return &Conn{
		streams:     fallback,
		md:          md,
		interceptor: chainUnary(unary),
		streamIC:    chainStream(stream),
		methods:     make(map[string]localMethod),
		serverSide:  make(map[string]localStream),
	}
}

// SetFallback sets the connection for calls not served in process. It must
// be called before the first call.
func (c *Conn) SetFallback(cc grpc.ClientConnInterface) { c.streams = cc }

// errClosed: a call after Close, answered as a closed transport would.
var errClosed = status.Error(codes.Unavailable, "inproc: connection closed")

// enter counts a handler in, unless the connection is closed.
func (c *Conn) enter() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.running.Add(1)
	return true
}

// Close refuses every later call served in process (UNAVAILABLE) and
// returns once the handlers already running have returned: a server
// stream's handler returns when its caller's context ends or the service
// ends the stream. It does not close the fallback connection.
func (c *Conn) Close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.running.Wait()
}

// errNoFallback: a call needs the fallback connection and there is none.
var errNoFallback = status.Error(codes.Unimplemented, "inproc: method not registered and no fallback connection")

// RegisterService implements grpc.ServiceRegistrar, so that a service is
// registered here as on a grpc.Server.
func (c *Conn) RegisterService(desc *grpc.ServiceDesc, impl any) {
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
func (c *Conn) incoming(ctx context.Context) context.Context {
	md := c.md
	if outgoing, ok := metadata.FromOutgoingContext(ctx); ok {
		md = metadata.Join(outgoing, c.md)
	}
	return metadata.NewIncomingContext(ctx, md)
}

// Invoke runs a unary call in the caller's goroutine.
func (c *Conn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	m, ok := c.methods[method]
	if !ok {
		if c.streams == nil {
			return errNoFallback
		}
		return c.streams.Invoke(ctx, method, args, reply, opts...)
	}
	if !c.enter() {
		return errClosed
	}
	defer c.running.Done()
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
func (c *Conn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	st, ok := c.serverSide[method]
	if !ok || desc.ClientStreams || !desc.ServerStreams {
		if c.streams == nil {
			return nil, errNoFallback
		}
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
			msgs:       make(chan proto.Message, StreamBuffer),
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
	case s.msgs <- m.(proto.Message):
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
	conn    *Conn
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
	if !s.conn.enter() {
		s.srv.err = errClosed
		close(s.srv.done)
		s.srv.cancel()
		return nil
	}
	s.srv.req = proto.Clone(m.(proto.Message))
	go func() {
		defer s.conn.running.Done()
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
	// A caller that went away gets Canceled (or DeadlineExceeded), as from
	// a network stream, even when messages or the handler's end are ready.
	if err := s.ctx.Err(); err != nil {
		return status.FromContextError(err).Err()
	}
	select {
	case msg := <-s.srv.msgs:
		shallowCopy(m.(proto.Message), msg)
		return nil
	case <-s.srv.done:
		// Messages sent before the handler returned come first.
		select {
		case msg := <-s.srv.msgs:
			shallowCopy(m.(proto.Message), msg)
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

// StreamBuffer is how many messages a server stream may run ahead of its
// reader, as a transport's flow-control window lets it: the handler is not
// woken for every message, and its reader takes bursts.
const StreamBuffer = 32

// shallowCopy makes dst hold src's fields, sharing their values: a
// sub-message, list or bytes field of dst is src's own (see Conn on why
// that is safe). Messages of different types are merged (deep copy).
func shallowCopy(dst, src proto.Message) {
	d, sr := dst.ProtoReflect(), src.ProtoReflect()
	if d.Descriptor() != sr.Descriptor() {
		proto.Merge(dst, src)
		return
	}
	proto.Reset(dst)
	sr.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		d.Set(fd, v)
		return true
	})
}
