package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/switchboard-hub/switchboard/internal/app"
)

// shutdownTimeout bounds a graceful stop.
const shutdownTimeout = 10 * time.Second

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	configPath := fs.String("config", "", "JSON config file (comments allowed); flags override it")
	httpAddr := fs.String("http-addr", "", "address of the HTTP and websocket faces (http_addr)")
	grpcAddr := fs.String("grpc-addr", "", "address of the gRPC API (grpc_addr)")
	upstream := fs.String("upstream", "", "run as an edge: serve the faces against the core at this gRPC address")
	engineType := fs.String("engine", "", `engine type: "memory" or "redis" (engine.type)`)
	redisAddr := fs.String("redis-address", "", "Redis address for the redis engine (engine.address)")
	insecureAPI := fs.Bool("api-insecure", false, "accept server API calls without a signature or key (api_insecure)")
	logLevel := fs.String("log-level", "", "debug, info, warn or error (log_level)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg := app.Default()
	if *configPath != "" {
		var err error
		if cfg, err = app.Load(*configPath); err != nil {
			return err
		}
	}
	// Flags given on the command line win over the file.
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "http-addr":
			cfg.HTTPAddr = *httpAddr
		case "grpc-addr":
			cfg.GRPCAddr = *grpcAddr
		case "upstream":
			cfg.Upstream = *upstream
		case "engine":
			cfg.Engine.Type = *engineType
		case "redis-address":
			cfg.Engine.Address = *redisAddr
		case "api-insecure":
			cfg.APIInsecure = *insecureAPI
		case "log-level":
			cfg.LogLevel = *logLevel
		}
	})

	log, err := newLogger(cfg)
	if err != nil {
		return err
	}
	a, err := app.New(cfg, log)
	if err != nil {
		return err
	}
	if err := a.Start(); err != nil {
		return err
	}
	// Signals are ours before the banner says where we listen: a caller
	// that stops the server as soon as it has seen the banner must get a
	// graceful stop, not the default death by SIGTERM.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	printListening(cfg, a)
	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down", "timeout", shutdownTimeout)
	case runErr = <-a.Err():
		log.Error("stopping after a failure", "err", runErr)
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := a.Shutdown(sctx); err != nil {
		log.Warn("shutdown incomplete", "err", err)
	}
	log.Info("stopped")
	return runErr
}

func printListening(cfg app.Config, a *app.App) {
	scheme, ws := "http", "ws"
	if cfg.TLSCert != "" {
		scheme, ws = "https", "wss"
	}
	h := a.HTTPAddr()
	fmt.Fprintf(os.Stderr, "switchboard %s\n", app.Version)
	if cfg.Upstream != "" {
		fmt.Fprintf(os.Stderr, "  edge of core     %s\n", cfg.Upstream)
	} else {
		engine := cfg.Engine.Type
		if engine == "" {
			engine = "memory"
		}
		fmt.Fprintf(os.Stderr, "  gRPC API         %s (engine: %s)\n", a.GRPCAddr(), engine)
	}
	fmt.Fprintf(os.Stderr, "  REST API         %s://%s/v1/   (OpenAPI: %s://%s/openapi.json)\n", scheme, h, scheme, h)
	fmt.Fprintf(os.Stderr, "  Centrifugo API   %s://%s/api/\n", scheme, h)
	fmt.Fprintf(os.Stderr, "  comet-server ws  %s://%s/ws/\n", ws, h)
	fmt.Fprintf(os.Stderr, "  DRP events ws    %s://%s/api/v3/ws\n", ws, h)
	fmt.Fprintf(os.Stderr, "  metrics, health  %s://%s/metrics  /healthz  /readyz\n", scheme, h)
	if cfg.APISecret == "" || cfg.APIInsecure {
		fmt.Fprintln(os.Stderr, "  warning: the server API accepts unsigned calls (no api_secret); run `switchboard genconfig` for a config with secrets")
	}
}

func newLogger(cfg app.Config) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return nil, fmt.Errorf("log_level %q: %w", cfg.LogLevel, err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(cfg.LogFormat) {
	case "", "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	default:
		return nil, fmt.Errorf("log_format %q: want text or json", cfg.LogFormat)
	}
}
