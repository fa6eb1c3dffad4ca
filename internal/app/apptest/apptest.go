// Package apptest starts a real Switchboard server on random loopback ports
// for tests: every face over real sockets, the gRPC API over real TCP.
package apptest

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/app"
	"github.com/switchboard-hub/switchboard/internal/token"
	"github.com/switchboard-hub/switchboard/services/auth"
)

// Server is a running test server.
type Server struct {
	App      *app.App
	Config   app.Config
	HTTPURL  string // http://127.0.0.1:PORT (https:// with TLS)
	WSURL    string // ws://127.0.0.1:PORT (wss:// with TLS)
	HTTPAddr string
	GRPCAddr string
	Conn     *grpc.ClientConn        // trusted (api key) connection to the gRPC API
	Hub      pb.HubServiceClient     // over Conn
	Sessions pb.SessionServiceClient // over Conn
}

// TestSecret is the api_secret of test servers.
const TestSecret = "test-api-secret"

// TestTokenSecret is the token_secret of test servers.
const TestTokenSecret = "test-token-secret"

// Start runs a server with test defaults (loopback random ports, api_secret
// TestSecret, token_secret TestTokenSecret), changed by tweak, and stops it
// when the test ends. Logs go to the test log with -v and SWITCHBOARD_TEST_LOG=1.
func Start(t testing.TB, tweak func(*app.Config)) *Server {
	t.Helper()
	cfg := app.Default()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.GRPCAddr = "127.0.0.1:0"
	cfg.APISecret = TestSecret
	cfg.TokenSecret = TestTokenSecret
	if tweak != nil {
		tweak(&cfg)
	}
	return StartConfig(t, cfg)
}

// StartConfig runs a server with cfg as it is (from app.Load, say) and
// stops it when the test ends.
func StartConfig(t testing.TB, cfg app.Config) *Server {
	t.Helper()
	var out io.Writer = io.Discard
	if os.Getenv("SWITCHBOARD_TEST_LOG") != "" {
		out = os.Stderr
	}
	log := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := app.New(cfg, log)
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	if err := a.Start(); err != nil {
		t.Fatalf("app.Start: %v", err)
	}
	s := &Server{App: a, Config: cfg, HTTPAddr: a.HTTPAddr(), GRPCAddr: a.GRPCAddr()}
	t.Cleanup(func() { s.Stop(t) })
	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	}
	s.HTTPURL = scheme + "://" + s.HTTPAddr
	s.WSURL = map[string]string{"http": "ws", "https": "wss"}[scheme] + "://" + s.HTTPAddr
	if s.GRPCAddr != "" {
		s.Conn = Dial(t, s.GRPCAddr, auth.APIKey(cfg.APISecret))
		s.Hub = pb.NewHubServiceClient(s.Conn)
		s.Sessions = pb.NewSessionServiceClient(s.Conn)
	}
	return s
}

// Stop shuts the server down gracefully (again at the end of the test is
// harmless).
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.App.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

// Dial opens a gRPC connection to addr with the given per-RPC credentials
// (auth.APIKey, auth.Bearer or nil), closed when the test ends.
func Dial(t testing.TB, addr string, creds credentials.PerRPCCredentials, extra ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	opts := append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, extra...)
	if creds != nil {
		opts = append(opts, grpc.WithPerRPCCredentials(creds))
	}
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// Token mints a client JWT for user, signed with the server's token_secret.
func (s *Server) Token(t testing.TB, user string) string {
	t.Helper()
	tok, err := token.Mint([]byte(s.Config.TokenSecret), user, time.Hour, time.Now())
	if err != nil {
		t.Fatalf("mint token: %v", err)
	}
	return tok
}
