// Package app wires the core services and the bridges into one process:
// the gRPC server (with health and reflection), an in-memory gRPC connection
// for the bridges and the REST gateway, and one HTTP server for every face,
// /metrics, /healthz, /readyz and /openapi.json. It is the only package that
// imports both services/ and bridge/.
package app

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/test/bufconn"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/services/admin"
	"github.com/switchboard-hub/switchboard/services/auth"
	"github.com/switchboard-hub/switchboard/services/engine"
	"github.com/switchboard-hub/switchboard/services/hub"
	"github.com/switchboard-hub/switchboard/services/user"
	"github.com/switchboard-hub/switchboard/services/webhook"
)

// Version is set at build time (-ldflags "-X .../app.Version=...").
var Version = "dev"

// App is one running Switchboard process.
type App struct {
	cfg Config
	log *slog.Logger

	// Core (absent on an edge).
	eng     engine.Engine
	hub     *hub.Hub
	grpcSrv *grpc.Server
	health  *health.Server
	grpcLn  net.Listener
	mem     *bufconn.Listener
	hooks   *webhook.Service
	closers []func() error // run after the engine is closed

	// Clients of the core: the bridges' (trusted) and the gateway's (which
	// forwards each caller's own credentials).
	bridgeConn  *grpc.ClientConn
	bridge      grpc.ClientConnInterface // what the faces use: bridgeConn, or a localConn over it
	gatewayConn *grpc.ClientConn

	httpSrv *http.Server
	httpLn  net.Listener

	ctx    context.Context // ends every background loop and every face's sockets
	cancel context.CancelFunc
	wg     sync.WaitGroup
	errc   chan error

	stopOnce sync.Once
	stopErr  error
}

// New checks cfg and builds the process; Start makes it listen.
func New(cfg Config, log *slog.Logger) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	return &App{cfg: cfg, log: log, errc: make(chan error, 8)}, nil
}

// HTTPAddr is the address the HTTP faces listen on (after Start).
func (a *App) HTTPAddr() string { return a.httpLn.Addr().String() }

// GRPCAddr is the address of the gRPC API (after Start; empty on an edge).
func (a *App) GRPCAddr() string {
	if a.grpcLn == nil {
		return ""
	}
	return a.grpcLn.Addr().String()
}

// Err reports a background failure that should stop the process.
func (a *App) Err() <-chan error { return a.errc }

// Start listens on every address and serves until Shutdown.
func (a *App) Start() (err error) {
	a.ctx, a.cancel = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			a.cancel()
			a.closeAll()
		}
	}()
	if a.cfg.Upstream == "" {
		if err := a.startCore(); err != nil {
			return err
		}
	} else if err := a.dialUpstream(); err != nil {
		return err
	}
	if err := a.startDebug(); err != nil {
		return err
	}
	return a.startHTTP()
}

func (a *App) startCore() error {
	eng, err := newEngine(a.cfg, a.log)
	if err != nil {
		return err
	}
	a.eng = eng
	if a.hooks, err = a.newWebhooks(); err != nil {
		return err
	}
	ns := make([]hub.Namespace, 0, len(a.cfg.Namespaces))
	for _, n := range a.cfg.Namespaces {
		ns = append(ns, hub.Namespace{Name: n.Name, HistorySize: n.HistorySize, HistoryTTL: time.Duration(n.HistoryTTL), Presence: n.Presence, JoinLeave: n.JoinLeave})
	}
	a.hub = hub.New(hub.Options{
		Engine:      eng,
		NodeName:    nodeName(a.cfg),
		Version:     Version,
		HistorySize: a.cfg.HistorySize,
		HistoryTTL:  time.Duration(a.cfg.HistoryTTL),
		NoPresence:  a.cfg.NoPresence,
		JoinLeave:   a.cfg.JoinLeave,
		Namespaces:  ns,
		MaxPayload:  a.cfg.MaxPayload,
		QueueSize:   a.cfg.ClientQueueSize,
		UserQueue:   a.cfg.UserQueueSize,
		Heartbeat:   time.Duration(a.cfg.StreamHeartbeat),
		Logger:      a.log,
		Observer:    webhookObserver{a.hooks},
	})

	internalKey := randomHex(32)
	ac := auth.Config{
		APIKeys:  []string{a.cfg.APISecret, internalKey},
		Insecure: a.cfg.insecureAPI(),
	}
	if a.cfg.TokenSecret != "" {
		ac.TokenSecret = []byte(a.cfg.TokenSecret)
	}
	unary := []grpc.UnaryServerInterceptor{recoverUnary(a.log), metricsUnary, ac.UnaryInterceptor()}
	streams := []grpc.StreamServerInterceptor{recoverStream(a.log), metricsStream, ac.StreamInterceptor()}
	a.grpcSrv = grpc.NewServer(
		grpc.ChainUnaryInterceptor(unary...),
		grpc.ChainStreamInterceptor(streams...),
		grpc.MaxRecvMsgSize(a.cfg.MaxPayload*4+(1<<20)),
	)
	// The faces' calls skip the in-memory transport (see localConn); the
	// gateway's and everyone else's go through grpcSrv.
	local := newLocalConn(nil, metadata.Pairs("authorization", "apikey "+internalKey), unary, streams)
	users := user.NewServer(userStore(eng), eng, user.Options{Logger: a.log})
	admins := admin.New(a.adminOptions(pb.NewHubServiceClient(local)))
	for _, r := range []grpc.ServiceRegistrar{a.grpcSrv, local} {
		pb.RegisterHubServiceServer(r, a.hub.HubService())
		pb.RegisterSessionServiceServer(r, a.hub.SessionService())
		// UserService: auth hashes, user data, last-seen times (comet-server
		// face); online state comes from the engine's sessions.
		pb.RegisterUserServiceServer(r, users)
		// AdminService: admin logins, session keys in the engine, the
		// StreamableEvent stream (Comet face, REST, gRPC).
		pb.RegisterAdminServiceServer(r, admins)
		pb.RegisterWebhookServiceServer(r, a.hooks.Server())
	}
	a.health = health.NewServer()
	healthpb.RegisterHealthServer(a.grpcSrv, a.health)
	reflection.Register(a.grpcSrv)

	ln, err := net.Listen("tcp", a.cfg.GRPCAddr)
	if err != nil {
		return fmt.Errorf("grpc_addr: %w", err)
	}
	a.grpcLn = ln
	a.mem = bufconn.Listen(1 << 20)
	a.goServe("grpc", func() error { return a.grpcSrv.Serve(ln) })
	a.goServe("grpc in-memory", func() error { return a.grpcSrv.Serve(a.mem) })
	a.goRun("hub", a.hub.Run)
	if err := a.hooks.Start(a.ctx); err != nil {
		return fmt.Errorf("webhooks: %w", err)
	}
	a.goRun("health", a.watchHealth)

	dial := func(ctx context.Context, _ string) (net.Conn, error) { return a.mem.DialContext(ctx) }
	a.bridgeConn, err = grpc.NewClient("passthrough:///in-memory",
		grpc.WithContextDialer(dial), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(auth.APIKey(internalKey)))
	if err != nil {
		return err
	}
	local.streams = a.bridgeConn
	a.bridge = local
	a.gatewayConn, err = grpc.NewClient("passthrough:///in-memory",
		grpc.WithContextDialer(dial), grpc.WithTransportCredentials(insecure.NewCredentials()))
	return err
}

// adminOptions maps the config's admins onto AdminService.
func (a *App) adminOptions(hubClient pb.HubServiceClient) admin.Options {
	accounts := make([]admin.Account, 0, len(a.cfg.Admins))
	for _, ad := range a.cfg.Admins {
		accounts = append(accounts, admin.Account{Username: ad.Username, Password: ad.Password, TOTPSecret: ad.TOTPSecret})
	}
	return admin.Options{
		Accounts:   accounts,
		Store:      a.eng,
		Hub:        hubClient,
		Publish:    a.hub.PublishSystem,
		SessionTTL: time.Duration(a.cfg.AdminSessionTTL),
		Version:    Version,
		Node:       nodeName(a.cfg),
		Logger:     a.log,
	}
}

// dialUpstream connects an edge process to a remote core.
func (a *App) dialUpstream() error {
	var err error
	a.bridgeConn, err = grpc.NewClient(a.cfg.Upstream,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(auth.APIKey(a.cfg.APISecret)))
	if err != nil {
		return fmt.Errorf("upstream %q: %w", a.cfg.Upstream, err)
	}
	a.bridge = a.bridgeConn
	a.gatewayConn, err = grpc.NewClient(a.cfg.Upstream, grpc.WithTransportCredentials(insecure.NewCredentials()))
	return err
}

func (a *App) startHTTP() error {
	handler, err := a.routes()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", a.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("http_addr: %w", err)
	}
	a.httpLn = ln
	a.httpSrv = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return a.ctx },
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelDebug),
	}
	if a.cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(a.cfg.TLSCert, a.cfg.TLSKey)
		if err != nil {
			return fmt.Errorf("tls_cert/tls_key: %w", err)
		}
		a.httpSrv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		a.goServe("https", func() error { return a.httpSrv.ServeTLS(ln, "", "") })
	} else {
		a.goServe("http", func() error { return a.httpSrv.Serve(ln) })
	}
	return nil
}

// Shutdown stops accepting, ends every stream and socket with a clear
// status, and releases everything; ctx bounds how long it waits. Calls
// after the first return the first one's result.
func (a *App) Shutdown(ctx context.Context) error {
	a.stopOnce.Do(func() { a.stopErr = a.shutdown(ctx) })
	return a.stopErr
}

func (a *App) shutdown(ctx context.Context) error {
	if a.health != nil {
		a.health.Shutdown()
	}
	var errs []error
	if a.httpSrv != nil {
		a.httpSrv.SetKeepAlivesEnabled(false)
	}
	if a.hub != nil {
		a.hub.Shutdown()
	}
	a.cancel() // faces close their sockets, background loops end
	if a.httpSrv != nil {
		if err := a.httpSrv.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if a.grpcSrv != nil {
		stopped := make(chan struct{})
		go func() { a.grpcSrv.GracefulStop(); close(stopped) }()
		select {
		case <-stopped:
		case <-ctx.Done():
			a.grpcSrv.Stop()
		}
	}
	a.closeAll()
	done := make(chan struct{})
	go func() { a.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, errors.New("shutdown: background loops did not end in time"))
	}
	return errors.Join(errs...)
}

func (a *App) closeAll() {
	for _, c := range []*grpc.ClientConn{a.bridgeConn, a.gatewayConn} {
		if c != nil {
			c.Close()
		}
	}
	if a.hooks != nil {
		a.hooks.Stop() // before the engine: its workers use the queues
	}
	if a.eng != nil {
		a.eng.Close()
	}
	for _, c := range a.closers {
		if err := c(); err != nil {
			a.log.Warn("close", "err", err)
		}
	}
}

// goServe runs a server loop; an unexpected end is reported on Err.
func (a *App) goServe(name string, serve func() error) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		err := serve()
		if err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, grpc.ErrServerStopped) && a.ctx.Err() == nil {
			a.report(fmt.Errorf("%s: %w", name, err))
		}
	}()
}

// goRun runs a background loop until the app's context ends.
func (a *App) goRun(name string, run func(context.Context) error) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if err := run(a.ctx); err != nil && a.ctx.Err() == nil {
			a.report(fmt.Errorf("%s: %w", name, err))
		}
	}()
}

func (a *App) report(err error) {
	select {
	case a.errc <- err:
	default:
	}
}

// watchHealth keeps the gRPC health status in step with the engine.
func (a *App) watchHealth(ctx context.Context) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		st := healthpb.HealthCheckResponse_SERVING
		if err := a.eng.Healthy(ctx); err != nil {
			st = healthpb.HealthCheckResponse_NOT_SERVING
		}
		a.health.SetServingStatus("", st)
		a.health.SetServingStatus(pb.HubService_ServiceDesc.ServiceName, st)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func nodeName(cfg Config) string {
	if cfg.NodeName != "" {
		return cfg.NodeName
	}
	return cfg.HTTPAddr
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
