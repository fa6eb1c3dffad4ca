package app

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// startDebug serves the Go profiler (/debug/pprof/) on debug_addr, a
// listener of its own so that profiles are never exposed on the faces'
// address by accident. Off when debug_addr is empty.
func (a *App) startDebug() error {
	if a.cfg.DebugAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", a.cfg.DebugAddr)
	if err != nil {
		return fmt.Errorf("debug_addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	a.goServe("debug", func() error { return srv.Serve(ln) })
	a.goRun("debug shutdown", func(ctx context.Context) error {
		<-ctx.Done()
		return srv.Close()
	})
	a.log.Info("profiler listening", "addr", ln.Addr().String())
	return nil
}
