package bench

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/services/auth"
)

// grpcFace opens HubService.Subscribe streams, spread over a few HTTP/2
// connections. Responses are not decoded: the raw message holds the event's
// data verbatim, and its first byte tells the oneof case apart.
type grpcFace struct {
	conns []*grpc.ClientConn
	next  atomic.Uint64
}

// streamsPerConn is how many subscriber streams share one connection.
const streamsPerConn = 500

// Tags of SubscribeResponse's oneof fields (field number << 3 | length-delimited).
const (
	tagSubscribed = 1<<3 | 2
	tagEvent      = 2<<3 | 2
)

var errNotSubscribed = errors.New("stream did not start with subscribed")

var subscribeDesc = &grpc.StreamDesc{StreamName: "Subscribe", ServerStreams: true}

func newGRPCFace(t *target, o *Options) (face, error) {
	n := min(max(1, (o.Clients+streamsPerConn-1)/streamsPerConn), 32)
	f := &grpcFace{}
	for range n {
		c, err := dialGRPC(t, t.grpcAddr)
		if err != nil {
			f.close()
			return nil, err
		}
		f.conns = append(f.conns, c)
	}
	return f, nil
}

func dialGRPC(t *target, addr string) (*grpc.ClientConn, error) {
	if addr == "" {
		return nil, errors.New("the server's gRPC address is unknown")
	}
	c, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(auth.APIKey(t.apiSecret)))
	if err != nil {
		return nil, fmt.Errorf("grpc %s: %w", addr, err)
	}
	return c, nil
}

func (f *grpcFace) subscribe(ctx context.Context, channel string, t *tally) (*client, error) {
	conn := f.conns[f.next.Add(1)%uint64(len(f.conns))]
	// The stream lives on after ctx, which bounds only the set-up.
	sctx, cancel := context.WithCancel(context.Background())
	stopWait := context.AfterFunc(ctx, cancel)
	defer stopWait()
	st, err := conn.NewStream(sctx, subscribeDesc, pb.HubService_Subscribe_FullMethodName, grpc.ForceCodecV2(rawCodec{}))
	if err == nil {
		err = st.SendMsg(&pb.SubscribeRequest{Filters: []*pb.Filter{{Channels: []string{channel}}}})
	}
	if err == nil {
		err = st.CloseSend()
	}
	var m rawMessage
	if err == nil {
		err = st.RecvMsg(&m)
	}
	if err == nil && (len(m.b) == 0 || m.b[0] != tagSubscribed) {
		err = errNotSubscribed
	}
	if err != nil {
		cancel()
		return nil, fmt.Errorf("grpc subscribe: %w", err)
	}
	cl := &client{done: make(chan struct{})}
	cl.stop = func() {
		t.stopping.Store(true)
		cancel()
	}
	go func() {
		defer close(cl.done)
		var m rawMessage
		for {
			if err := st.RecvMsg(&m); err != nil {
				t.end(err)
				return
			}
			if len(m.b) > 0 && m.b[0] == tagEvent {
				t.frame(m.b, time.Now())
			}
		}
	}()
	return cl, nil
}

func (f *grpcFace) close() {
	for _, c := range f.conns {
		c.Close()
	}
}

// rawMessage receives a message's bytes undecoded.
type rawMessage struct{ b []byte }

// rawCodec marshals requests as protobuf and hands responses over as bytes.
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("raw codec: cannot marshal %T", v)
	}
	b, err := proto.Marshal(m)
	if err != nil {
		return nil, err
	}
	return mem.BufferSlice{mem.SliceBuffer(b)}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(*rawMessage)
	if !ok {
		return fmt.Errorf("raw codec: cannot unmarshal into %T", v)
	}
	m.b = m.b[:0]
	for _, buf := range data {
		m.b = append(m.b, buf.ReadOnlyData()...)
	}
	return nil
}
