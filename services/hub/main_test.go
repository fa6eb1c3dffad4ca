package hub_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/token"
	"github.com/switchboard-hub/switchboard/services/auth"
	"github.com/switchboard-hub/switchboard/services/engine/memory"
	"github.com/switchboard-hub/switchboard/services/hub"
)

// The tests fail when a goroutine outlives them: a hub's Run must end
// everything it started.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	testAPIKey      = "hub-test-key"
	testTokenSecret = "hub-test-token-secret"
	// wait bounds every wait; it is only reached when a test fails.
	wait = 10 * time.Second
)

// core is a hub on a memory engine, served over gRPC (with the auth
// interceptors) on an in-memory listener.
type core struct {
	hub      *hub.Hub
	conn     *grpc.ClientConn // trusted: api key
	Hub      pb.HubServiceClient
	Sessions pb.SessionServiceClient
	dial     func(creds ...grpc.DialOption) *grpc.ClientConn
}

// start runs a hub with opts (Engine is set here) until the test ends.
func start(t *testing.T, opts hub.Options) *core {
	t.Helper()
	eng := memory.New(memory.Options{})
	opts.Engine = eng
	h := hub.New(opts)
	ac := auth.Config{APIKeys: []string{testAPIKey}, TokenSecret: []byte(testTokenSecret)}
	srv := grpc.NewServer(
		grpc.WaitForHandlers(true),
		grpc.ChainUnaryInterceptor(ac.UnaryInterceptor()),
		grpc.ChainStreamInterceptor(ac.StreamInterceptor()),
	)
	pb.RegisterHubServiceServer(srv, h.HubService())
	pb.RegisterSessionServiceServer(srv, h.SessionService())
	lis := bufconn.Listen(1 << 20)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = srv.Serve(lis) })
	wg.Go(func() { _ = h.Run(ctx) })
	// Stops in the app's order: streams, server, hub, engine.
	t.Cleanup(func() {
		h.Shutdown()
		srv.Stop()
		cancel()
		wg.Wait()
		_ = eng.Close()
	})

	c := &core{hub: h}
	c.dial = func(extra ...grpc.DialOption) *grpc.ClientConn {
		opts := append([]grpc.DialOption{
			grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
			grpc.WithTransportCredentials(insecure.NewCredentials()),
		}, extra...)
		conn, err := grpc.NewClient("passthrough:///hub", opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		return conn
	}
	c.conn = c.dial(grpc.WithPerRPCCredentials(auth.APIKey(testAPIKey)))
	c.Hub = pb.NewHubServiceClient(c.conn)
	c.Sessions = pb.NewSessionServiceClient(c.conn)
	return c
}

// asUser is a HubService client for an end user with a token.
func (c *core) asUser(t *testing.T, user string) pb.HubServiceClient {
	t.Helper()
	tok, err := token.Mint([]byte(testTokenSecret), user, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return pb.NewHubServiceClient(c.dial(grpc.WithPerRPCCredentials(auth.Bearer(tok))))
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	t.Cleanup(cancel)
	return ctx
}

// subscribe opens a stream and waits for its `subscribed`.
func subscribe(t *testing.T, c pb.HubServiceClient, req *pb.SubscribeRequest) pb.HubService_SubscribeClient {
	t.Helper()
	st, err := c.Subscribe(ctxFor(t), req)
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.Recv()
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	if m.GetSubscribed() == nil {
		t.Fatalf("first message %v, want subscribed", m)
	}
	return st
}

// next returns the next event of a stream, skipping heartbeats.
func next(t *testing.T, st pb.HubService_SubscribeClient) *pb.Event {
	t.Helper()
	for {
		m, err := st.Recv()
		if err != nil {
			t.Fatalf("recv: %v", err)
		}
		if ev := m.GetEvent(); ev != nil {
			return ev
		}
	}
}

func publish(t *testing.T, c pb.HubServiceClient, ev *pb.Event) *pb.PublishResponse {
	t.Helper()
	r, err := c.Publish(ctxFor(t), &pb.PublishRequest{Event: ev})
	if err != nil {
		t.Fatalf("publish %v: %v", ev, err)
	}
	return r
}
