package cppcomet_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchboard-hub/switchboard/bridge"
	"github.com/switchboard-hub/switchboard/bridge/cppcomet"
	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// newOriginServer serves a face with an Origin allow-list, built on the
// real core of s (its gRPC API), on a loopback listener of its own.
func newOriginServer(t *testing.T, s *server, allow []string) *server {
	t.Helper()
	h := cppcomet.New(bridge.Deps{
		Hub:      pb.NewHubServiceClient(s.Conn),
		Sessions: pb.NewSessionServiceClient(s.Conn),
		Node:     "origin-test",
	}, s.users, cppcomet.Options{OriginAllow: allow, Logger: slog.New(slog.DiscardHandler)})
	ctx := ctxT(t)
	go func() { _ = h.Run(ctx) }()
	mux := http.NewServeMux()
	for _, p := range h.Routes() {
		mux.Handle(p, h)
	}
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	cp := *s.Server
	cp.WSURL = "ws" + strings.TrimPrefix(hs.URL, "http")
	return &server{Server: &cp, users: s.users}
}
