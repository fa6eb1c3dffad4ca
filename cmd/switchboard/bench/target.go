package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/switchboard-hub/switchboard/internal/app"
)

// target is the server under test and how to reach it.
type target struct {
	httpURL  string // http://127.0.0.1:PORT
	wsURL    string // ws://127.0.0.1:PORT
	grpcAddr string // 127.0.0.1:PORT; empty when unknown

	// Where publications go: the same server, or node A of two.
	pubHTTPURL  string
	pubGRPCAddr string
	pubPID      int // node A's process, 0 with one node

	apiSecret     string
	tokenSecret   string // Centrifugo's client.token.hmac_secret_key
	adminUser     string
	adminPassword string

	pid    int    // process whose memory is read; 0 when unknown
	shared bool   // the server runs in this process
	what   string // for the report

	stop func() error

	// newPublisher, when set, makes the publishers of a server that is not
	// Switchboard (the API of the server under comparison).
	newPublisher func() (publisher, error)
}

// startTarget starts or locates the server o.Server asks for.
func startTarget(ctx context.Context, o *Options) (*target, error) {
	s := o.Server
	if s.Mode != ServerRemote {
		if s.APISecret == "" {
			s.APISecret = randomHex(16)
		}
		if s.AdminUser == "" {
			s.AdminUser, s.AdminPassword = "bench", randomHex(16)
		}
	}
	t := &target{apiSecret: s.APISecret, adminUser: s.AdminUser, adminPassword: s.AdminPassword, stop: func() error { return nil }}
	if s.Centrifugo != "" {
		t.tokenSecret = randomHex(16)
	}
	switch s.Mode {
	case ServerInProcess:
		return t, t.startInProcess(s)
	case ServerSpawn:
		return t, t.spawn(ctx, s)
	default:
		t.httpURL = strings.TrimSuffix(s.Target, "/")
		t.wsURL = "ws" + strings.TrimPrefix(t.httpURL, "http")
		t.grpcAddr = s.GRPCAddr
		t.pubHTTPURL, t.pubGRPCAddr = t.httpURL, t.grpcAddr
		t.pid = s.PID
		t.what = "running server at " + t.httpURL
		if t.pid != 0 {
			t.what += fmt.Sprintf(" (pid %d)", t.pid)
		}
		return t, nil
	}
}

// serverConfig is the configuration of a server the bench starts: the
// defaults of `switchboard serve` (memory engine, history and presence on)
// with loopback addresses, fresh secrets and one admin account.
func serverConfig(s ServerOptions, httpAddr, grpcAddr string) app.Config {
	cfg := app.Default()
	cfg.HTTPAddr = httpAddr
	cfg.GRPCAddr = grpcAddr
	cfg.APISecret = s.APISecret
	cfg.TokenSecret = randomHex(16)
	cfg.Admins = []app.Admin{{Username: s.AdminUser, Password: s.AdminPassword}}
	cfg.LogLevel = "warn"
	return cfg
}

func (t *target) startInProcess(s ServerOptions) error {
	out := s.Log
	if out == nil {
		out = io.Discard
	}
	log := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := app.New(serverConfig(s, "127.0.0.1:0", "127.0.0.1:0"), log)
	if err != nil {
		return fmt.Errorf("in-process server: %w", err)
	}
	if err := a.Start(); err != nil {
		return fmt.Errorf("in-process server: %w", err)
	}
	t.setAddrs(a.HTTPAddr(), a.GRPCAddr())
	t.pubHTTPURL, t.pubGRPCAddr = t.httpURL, t.grpcAddr
	t.pid = os.Getpid()
	t.shared = true
	t.what = fmt.Sprintf("in-process server (pid %d, shared with the load generator)", t.pid)
	t.stop = func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return a.Shutdown(ctx)
	}
	return nil
}

func (t *target) setAddrs(httpAddr, grpcAddr string) {
	t.httpURL = "http://" + httpAddr
	t.wsURL = "ws://" + httpAddr
	t.grpcAddr = grpcAddr
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
