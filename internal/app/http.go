package app

import (
	"context"
	_ "embed"
	"encoding/json"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/switchboard-hub/switchboard/bridge/gateway"
	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// openAPI is gen/openapi/switchboard.swagger.json, copied here by
// `make generate` (gen/ is wiped by every generation, so it cannot hold Go).
//
//go:embed openapi.json
var openAPI []byte

// routes builds the one HTTP handler for every face and the operational
// endpoints.
func (a *App) routes() (http.Handler, error) {
	mux := http.NewServeMux()
	gw, err := gateway.New(a.ctx, a.gatewayCalls, gateway.Options{
		APIKey:       a.cfg.APISecret,
		TokenSecret:  []byte(a.cfg.TokenSecret),
		Insecure:     a.cfg.insecureAPI(),
		MaxBodyBytes: a.cfg.maxRequestBytes(),
		OpenAPI:      openAPI,
	},
		gateway.Client(pb.RegisterUserServiceHandlerClient, pb.NewUserServiceClient),
		gateway.Client(pb.RegisterDirectoryServiceHandlerClient, pb.NewDirectoryServiceClient),
		gateway.Client(pb.RegisterAdminServiceHandlerClient, pb.NewAdminServiceClient),
		gateway.Client(pb.RegisterWebhookServiceHandlerClient, pb.NewWebhookServiceClient))
	if err != nil {
		return nil, err
	}
	mux.Handle("/v1/", gw)
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openAPI)
	})
	mux.Handle("GET /metrics", promhttp.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", a.ready)
	if err := a.mountFaces(mux); err != nil {
		return nil, err
	}
	return mux, nil
}

// ready answers 200 only when the core can deliver: the engine is healthy
// (for Redis: connected and subscribed) and the node answers a call; 503
// otherwise, within readyTimeout whatever the engine does.
func (a *App) ready(w http.ResponseWriter, r *http.Request) {
	if a.ctx.Err() != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "shutting down"})
		return
	}
	// One budget for the whole answer: a backend that hangs is not ready.
	cctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if a.eng != nil {
		if err := a.probe.healthy(cctx, readyTimeout); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "engine unhealthy", "error": err.Error()})
			return
		}
	}
	if _, err := pb.NewHubServiceClient(a.bridgeConn).Node(cctx, &pb.NodeRequest{}); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "core unreachable", "error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
