package auth_test

import (
	"context"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/token"
	"github.com/switchboard-hub/switchboard/services/auth"
)

// The tests fail when a goroutine outlives them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	apiKey = "test-api-key"
	secret = "test-token-secret"
)

// whoami is a HubService whose History and Subscribe report the identity
// the interceptors gave the call (in the channel name of the answer).
type whoami struct {
	pb.UnimplementedHubServiceServer
}

func describe(id auth.Identity) string {
	s := id.Face + ":"
	if id.Trusted {
		return s + "trusted"
	}
	return s + "user=" + id.User
}

func (whoami) History(ctx context.Context, _ *pb.HistoryRequest) (*pb.HistoryResponse, error) {
	return &pb.HistoryResponse{Events: []*pb.Event{{Channel: describe(auth.FromContext(ctx))}}}, nil
}

func (whoami) Publish(ctx context.Context, _ *pb.PublishRequest) (*pb.PublishResponse, error) {
	return &pb.PublishResponse{Id: describe(auth.FromContext(ctx))}, nil
}

func (whoami) Subscribe(_ *pb.SubscribeRequest, srv pb.HubService_SubscribeServer) error {
	ev := &pb.Event{Channel: describe(auth.FromContext(srv.Context()))}
	return srv.Send(&pb.SubscribeResponse{Payload: &pb.SubscribeResponse_Event{Event: ev}})
}

// serve runs a gRPC server with cfg's interceptors on a loopback port and
// returns a dial function for it.
func serve(t *testing.T, cfg auth.Config) func(creds credentials.PerRPCCredentials) *grpc.ClientConn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.UnaryInterceptor(cfg.UnaryInterceptor()), grpc.StreamInterceptor(cfg.StreamInterceptor()))
	pb.RegisterHubServiceServer(srv, whoami{})
	healthpb.RegisterHealthServer(srv, health.NewServer())
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(lis) }()
	t.Cleanup(func() { srv.Stop(); <-done })
	return func(creds credentials.PerRPCCredentials) *grpc.ClientConn {
		opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
		if creds != nil {
			opts = append(opts, grpc.WithPerRPCCredentials(creds))
		}
		conn, err := grpc.NewClient(lis.Addr().String(), opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		return conn
	}
}

// header is per-RPC credentials sending one raw authorization header.
type header string

func (h header) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": string(h)}, nil
}
func (header) RequireTransportSecurity() bool { return false }

func mint(t *testing.T, key, user string, ttl time.Duration) string {
	t.Helper()
	tok, err := token.Mint([]byte(key), user, ttl, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestAuthenticate(t *testing.T) {
	dial := serve(t, auth.Config{APIKeys: []string{"", apiKey, "second-key"}, TokenSecret: []byte(secret)})
	tests := []struct {
		name    string
		creds   credentials.PerRPCCredentials
		history string     // identity History sees, or
		code    codes.Code // the refusal
		publish codes.Code // Publish needs a trusted caller
	}{
		{"api key", auth.APIKey(apiKey), "grpc:trusted", codes.OK, codes.OK},
		{"second api key", auth.APIKey("second-key"), "grpc:trusted", codes.OK, codes.OK},
		{"api key scheme in capitals", header("APIKEY " + apiKey), "grpc:trusted", codes.OK, codes.OK},
		{"wrong api key", auth.APIKey("nope"), "", codes.Unauthenticated, codes.Unauthenticated},
		{"empty api key is never a key", header("apikey "), "", codes.Unauthenticated, codes.Unauthenticated},
		{"user token", auth.Bearer(mint(t, secret, "42", time.Hour)), "grpc:user=42", codes.OK, codes.PermissionDenied},
		{"token of another secret", auth.Bearer(mint(t, "other", "42", time.Hour)), "", codes.Unauthenticated, codes.Unauthenticated},
		{"expired token", auth.Bearer(mint(t, secret, "42", -time.Hour)), "", codes.Unauthenticated, codes.Unauthenticated},
		{"garbage token", auth.Bearer("a.b.c"), "", codes.Unauthenticated, codes.Unauthenticated},
		{"unknown scheme", header("basic dXNlcjpwYXNz"), "", codes.Unauthenticated, codes.Unauthenticated},
		{"no credentials", nil, "", codes.Unauthenticated, codes.Unauthenticated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := pb.NewHubServiceClient(dial(tt.creds))
			r, err := c.History(t.Context(), &pb.HistoryRequest{Channel: "c"})
			if status.Code(err) != tt.code {
				t.Fatalf("History: %v, want %v", err, tt.code)
			}
			if err == nil && r.Events[0].Channel != tt.history {
				t.Fatalf("History saw %q, want %q", r.Events[0].Channel, tt.history)
			}
			if _, err := c.Publish(t.Context(), &pb.PublishRequest{}); status.Code(err) != tt.publish {
				t.Fatalf("Publish: %v, want %v", err, tt.publish)
			}
			st, err := c.Subscribe(t.Context(), &pb.SubscribeRequest{})
			if err == nil {
				var m *pb.SubscribeResponse
				m, err = st.Recv()
				if err == nil && m.GetEvent().GetChannel() != tt.history {
					t.Fatalf("Subscribe saw %q, want %q", m.GetEvent().GetChannel(), tt.history)
				}
			}
			if status.Code(err) != tt.code {
				t.Fatalf("Subscribe: %v, want %v", err, tt.code)
			}
		})
	}
}

func TestInsecure(t *testing.T) {
	dial := serve(t, auth.Config{APIKeys: []string{apiKey}, Insecure: true, TokenSecret: []byte(secret)})
	c := pb.NewHubServiceClient(dial(nil))
	if r, err := c.Publish(t.Context(), &pb.PublishRequest{}); err != nil || r.Id != "grpc:trusted" {
		t.Fatalf("no credentials on an insecure API: %v %v, want trusted", r, err)
	}
	// Credentials that are sent are still checked.
	if _, err := pb.NewHubServiceClient(dial(auth.APIKey("nope"))).Publish(t.Context(), &pb.PublishRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("wrong key on an insecure API: %v", err)
	}
}

func TestNoTokenSecretRefusesTokens(t *testing.T) {
	dial := serve(t, auth.Config{APIKeys: []string{apiKey}})
	c := pb.NewHubServiceClient(dial(auth.Bearer(mint(t, secret, "42", time.Hour))))
	if _, err := c.History(t.Context(), &pb.HistoryRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("token without token_secret: %v, want Unauthenticated", err)
	}
}

func TestFaceAndHealth(t *testing.T) {
	dial := serve(t, auth.Config{APIKeys: []string{apiKey}})
	conn := dial(auth.APIKey(apiKey))
	ctx := metadata.AppendToOutgoingContext(t.Context(), token.FaceKey, "rest")
	if r, err := pb.NewHubServiceClient(conn).History(ctx, &pb.HistoryRequest{}); err != nil || r.Events[0].Channel != "rest:trusted" {
		t.Fatalf("through the gateway: %v %v", r, err)
	}
	// Health checks need no credentials.
	if _, err := healthpb.NewHealthClient(dial(nil)).Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("health without credentials: %v", err)
	}
}
