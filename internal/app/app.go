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
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	// Registers the gzip compressor: clients that compress (gzip is what
	// several languages' stubs send when compression is on) are understood
	// and answered compressed.
	_ "google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/test/bufconn"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/inproc"
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
	probe   *prober // the engine's health, bounded (readyz, gRPC health)
	hub     *hub.Hub
	grpcSrv *grpc.Server
	health  *health.Server
	grpcLn  net.Listener
	mem     *bufconn.Listener
	local   *inproc.Conn // the faces' in-process connection to the services
	hooks   *webhook.Service
	closers []func() error // run after the engine is closed

	// Clients of the core: the bridges' (trusted) and the gateway's (which
	// forwards each caller's own credentials).
	bridgeConn  *grpc.ClientConn
	bridge      grpc.ClientConnInterface // what the faces use: bridgeConn, or an inproc.Conn over it
	gatewayConn *grpc.ClientConn
	// gatewayCalls is what the REST gateway calls: unary calls in process
	// (gatewayLocal) and streams over gatewayConn, or gatewayConn alone at
	// the edge.
	gatewayCalls grpc.ClientConnInterface
	gatewayLocal *inproc.Conn

	httpSrv *http.Server
	httpLn  net.Listener

	ctx    context.Context // ends every face's loops (goRun, goServe) and requests
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// faces ends the faces' sockets; it ends first at shutdown, so that
	// each face closes its sockets its own way before the streams under
	// them end.
	faces       context.Context
	cancelFaces context.CancelFunc

	// The core's loops (gRPC servers, hub, health), which end after the
	// faces' (see shutdown).
	coreCtx    context.Context
	coreCancel context.CancelFunc
	coreWG     sync.WaitGroup

	errc chan error

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
	a.faces, a.cancelFaces = context.WithCancel(a.ctx)
	a.coreCtx, a.coreCancel = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			ctx, cancel := context.WithTimeout(context.Background(), startFailureTimeout)
			defer cancel()
			_ = a.Shutdown(ctx)
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
	if wrapEngine != nil {
		eng = wrapEngine(eng)
	}
	a.eng = eng
	a.probe = &prober{check: eng.Healthy}
	if a.hooks, err = a.newWebhooks(); err != nil {
		return err
	}
	ns := make([]hub.Namespace, 0, len(a.cfg.Namespaces))
	for _, n := range a.cfg.Namespaces {
		ns = append(ns, hub.Namespace{Name: n.Name, HistorySize: n.HistorySize, HistoryTTL: time.Duration(n.HistoryTTL), Presence: n.Presence, JoinLeave: n.JoinLeave})
	}
	internalKey := randomHex(32)
	calls := &callCounts{internal: "apikey " + internalKey}
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
		GELFAddr:    a.cfg.GELFAddr,
		Logger:      a.log,
		Counters:    func() hub.ProcessCounters { return processCounters(calls) },
		Observer:    webhookObserver{a.hooks},
	})

	ac := auth.Config{
		APIKeys:  []string{a.cfg.APISecret, internalKey},
		Insecure: a.cfg.insecureAPI(),
	}
	if a.cfg.TokenSecret != "" {
		ac.TokenSecret = []byte(a.cfg.TokenSecret)
	}
	unary := []grpc.UnaryServerInterceptor{recoverUnary(a.log), metricsUnary, ac.UnaryInterceptor()}
	streams := []grpc.StreamServerInterceptor{recoverStream(a.log), metricsStream, ac.StreamInterceptor()}
	// Calls through the network (and the gateway) are counted for the node
	// stats; the faces' in-process calls are not (see callCounts).
	a.grpcSrv = grpc.NewServer(
		grpc.WaitForHandlers(true), // Stop returns once no handler runs: none calls the engine after
		grpc.ChainUnaryInterceptor(slices.Concat(unary, []grpc.UnaryServerInterceptor{calls.unary})...),
		grpc.ChainStreamInterceptor(slices.Concat(streams, []grpc.StreamServerInterceptor{calls.stream})...),
		grpc.MaxRecvMsgSize(int(a.cfg.maxRequestBytes())),
	)
	// The faces' calls skip the in-memory transport (see internal/inproc);
	// the gateway's and everyone else's go through grpcSrv.
	a.local = inproc.New(nil, metadata.Pairs("authorization", "apikey "+internalKey), unary, streams)
	// The REST gateway's unary calls run in process too, with the caller's
	// own credentials and counted as the network's calls are; its streams
	// go over the in-memory transport (gatewayConn).
	a.gatewayLocal = inproc.New(nil, nil,
		slices.Concat(unary, []grpc.UnaryServerInterceptor{calls.unary}),
		slices.Concat(streams, []grpc.StreamServerInterceptor{calls.stream}))
	users := user.NewServer(eng, eng, user.Options{Logger: a.log})
	admins := admin.New(a.adminOptions(pb.NewHubServiceClient(a.local)))
	for _, r := range []grpc.ServiceRegistrar{a.grpcSrv, a.local, a.gatewayLocal} {
		pb.RegisterHubServiceServer(r, a.hub.HubService())
		pb.RegisterSessionServiceServer(r, a.hub.SessionService())
		// DirectoryService: users and sessions cluster-wide, stop, command
		// relay, session logs (NkSERVICE face, and any API caller).
		pb.RegisterDirectoryServiceServer(r, a.hub.DirectoryService())
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
	a.goCore("grpc", func(context.Context) error { return a.grpcSrv.Serve(ln) })
	a.goCore("grpc in-memory", func(context.Context) error { return a.grpcSrv.Serve(a.mem) })
	a.goCore("hub", a.hub.Run)
	a.goCore("health", a.watchHealth)
	if err := a.hooks.Start(a.coreCtx); err != nil {
		return fmt.Errorf("webhooks: %w", err)
	}

	dial := func(ctx context.Context, _ string) (net.Conn, error) { return a.mem.DialContext(ctx) }
	a.bridgeConn, err = grpc.NewClient("passthrough:///in-memory",
		grpc.WithContextDialer(dial), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(auth.APIKey(internalKey)))
	if err != nil {
		return err
	}
	a.local.SetFallback(a.bridgeConn)
	a.bridge = a.local
	a.gatewayConn, err = grpc.NewClient("passthrough:///in-memory",
		grpc.WithContextDialer(dial), grpc.WithTransportCredentials(insecure.NewCredentials()))
	a.gatewayCalls = unaryLocal{unary: a.gatewayLocal, streams: a.gatewayConn}
	return err
}

// unaryLocal runs unary calls in process and streams over a connection.
type unaryLocal struct {
	unary   grpc.ClientConnInterface
	streams grpc.ClientConnInterface
}

func (c unaryLocal) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	return c.unary.Invoke(ctx, method, args, reply, opts...)
}

func (c unaryLocal) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return c.streams.NewStream(ctx, desc, method, opts...)
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
	a.gatewayCalls = a.gatewayConn
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

// startFailureTimeout bounds the release of what a failed Start began.
const startFailureTimeout = 10 * time.Second

// shutdown stops the faces, then the hub, then the engine, each only once
// everything before it has ended: a face's last calls (closing its
// sessions) still reach the hub, and nothing calls the engine once it is
// closed. What clients see (README "Operations"): websockets first, each
// with its face's close frame; then every gRPC and REST stream ends with
// UNAVAILABLE; then the listeners and background loops stop.
func (a *App) shutdown(ctx context.Context) error {
	var errs []error
	if a.health != nil {
		a.health.Shutdown()
	}
	if a.httpSrv != nil {
		a.httpSrv.SetKeepAlivesEnabled(false)
	}
	// 1. Faces: each closes its sockets with its own close frame, then
	// every stream ends with UNAVAILABLE (unary calls are still served),
	// face loops end, no new HTTP request.
	if a.cancelFaces != nil {
		a.cancelFaces()
	}
	if a.hub != nil {
		a.hub.Shutdown()
	}
	a.cancel()
	if a.httpSrv != nil {
		if err := a.httpSrv.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, waitFor(ctx, "faces", a.wg.Wait))

	// 2. The hub: no call from the network or in process is left running,
	// then its own loops end.
	if a.grpcSrv != nil {
		stopped := make(chan struct{})
		go func() { a.grpcSrv.GracefulStop(); close(stopped) }()
		select {
		case <-stopped:
		case <-ctx.Done():
			a.grpcSrv.Stop()
			<-stopped
		}
	}
	if a.local != nil {
		errs = append(errs, waitFor(ctx, "in-process calls", a.local.Close))
	}
	if a.gatewayLocal != nil {
		errs = append(errs, waitFor(ctx, "in-process REST calls", a.gatewayLocal.Close))
	}
	for _, c := range []*grpc.ClientConn{a.bridgeConn, a.gatewayConn} {
		if c != nil {
			c.Close()
		}
	}
	if a.coreCancel != nil {
		a.coreCancel()
	}
	errs = append(errs, waitFor(ctx, "core loops", a.coreWG.Wait))

	if a.hooks != nil {
		a.hooks.Stop() // before the engine: its workers use the queues
	}

	// 3. The engine, which nothing calls any more, and the stores beside it.
	if a.eng != nil {
		if err := a.eng.Close(); err != nil {
			errs = append(errs, fmt.Errorf("engine: %w", err))
		}
	}
	for _, c := range a.closers {
		if err := c(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// waitFor runs wait, giving up (with an error naming what) when ctx ends
// first.
func waitFor(ctx context.Context, what string, wait func()) error {
	done := make(chan struct{})
	go func() { wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("shutdown: %s did not end in time", what)
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

// goCore runs a loop of the core until the faces have stopped (see
// shutdown); an unexpected end is reported on Err.
func (a *App) goCore(name string, run func(context.Context) error) {
	a.coreWG.Add(1)
	go func() {
		defer a.coreWG.Done()
		if err := run(a.coreCtx); err != nil && a.coreCtx.Err() == nil && a.ctx.Err() == nil {
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

// watchHealth keeps the gRPC health status in step with the engine: a
// check that takes longer than readyTimeout counts as a failure, so a hung
// backend turns the status NOT_SERVING within two seconds.
func (a *App) watchHealth(ctx context.Context) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		st := healthpb.HealthCheckResponse_SERVING
		if err := a.probe.healthy(ctx, readyTimeout); err != nil {
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
