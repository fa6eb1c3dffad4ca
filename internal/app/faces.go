package app

import (
	"net/http"
	"time"

	"github.com/switchboard-hub/switchboard/bridge"
	"github.com/switchboard-hub/switchboard/bridge/centrifugo"
	cometface "github.com/switchboard-hub/switchboard/bridge/comet"
	"github.com/switchboard-hub/switchboard/bridge/console"
	"github.com/switchboard-hub/switchboard/bridge/control"
	"github.com/switchboard-hub/switchboard/bridge/cppcomet"
	"github.com/switchboard-hub/switchboard/bridge/drp"
	"github.com/switchboard-hub/switchboard/bridge/fanout"
	"github.com/switchboard-hub/switchboard/bridge/nkservice"
	"github.com/switchboard-hub/switchboard/bridge/wsconn"
	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/services/hub"
)

// deps builds what every face shares: clients of the core, the one fan-out
// of this process and its edge's Control stream (started here).
func (a *App) deps() bridge.Deps {
	hubClient := pb.NewHubServiceClient(a.bridge)
	sessions := pb.NewSessionServiceClient(a.bridge)
	router := control.New(sessions, nodeName(a.cfg)+"/"+randomHex(8), a.log)
	a.goRun("control stream", router.Run)
	return bridge.Deps{
		Context:  a.faces,
		Hub:      hubClient,
		Sessions: sessions,
		Fanout:   fanout.New(hubClient, fanout.Options{Logger: a.log}),
		Control:  router,
		Logger:   a.log,
		Node:     nodeName(a.cfg),
	}
}

// mountFaces puts every protocol face on the HTTP mux.
func (a *App) mountFaces(mux *http.ServeMux) error {
	deps := a.deps()

	// Digital Rebar Provision: GET /api/v3/ws, POST /api/v3/events, the login
	// calls (users/<user>/token, info) and DRP's 404 for the rest of /api/v3/.
	adminNames := make([]string, 0, len(a.cfg.Admins))
	for _, ad := range a.cfg.Admins {
		adminNames = append(adminNames, ad.Username)
	}
	drpFace := drp.New(deps, drp.Options{
		TokenSecret:    []byte(a.cfg.TokenSecret),
		Admins:         pb.NewAdminServiceClient(a.bridge),
		AdminNames:     adminNames,
		QueueSize:      a.cfg.ClientQueueSize,
		OriginPatterns: a.cfg.AllowedOrigins,
		Version:        Version,
		Logger:         a.log,
	})
	for _, p := range drpFace.Routes() {
		mux.Handle(p, drpFace)
	}

	// Centrifugo v1 server API: POST /api/ (and /api → 301), Redis queue.
	cf := centrifugo.New(deps, a.centrifugoOptions())
	mux.Handle(centrifugo.Path, cf)
	mux.Handle(centrifugo.PathNoSlash, cf)
	a.goRun("centrifugo redis api", cf.Run)

	// comet-server (CppComet): GET /ws/<params> and /comet-server/ws/<params>.
	comet := cppcomet.New(deps, pb.NewUserServiceClient(a.bridge), cppcomet.Options{
		TokenSecret:    []byte(a.cfg.TokenSecret),
		OriginPatterns: a.cfg.AllowedOrigins,
		OriginAllow:    a.cfg.CppComet.OriginAllow,
		QueueSize:      a.cfg.ClientQueueSize,
		Logger:         a.log,
	})
	for _, p := range comet.Routes() {
		mux.Handle(p, comet)
	}

	// NkSERVICE External API: GET /nkservice/ws.
	nkAdmins := make([]nkservice.Admin, 0, len(a.cfg.Admins))
	for _, ad := range a.cfg.Admins {
		nkAdmins = append(nkAdmins, nkservice.Admin{Username: ad.Username, Password: ad.Password})
	}
	mux.Handle(nkservice.Path, nkservice.New(deps, pb.NewDirectoryServiceClient(a.bridge), nkservice.Options{
		TokenSecret: []byte(a.cfg.TokenSecret),
		Admins:      nkAdmins,
		Permissions: nkservice.Permissions{
			SubscribeClasses: a.cfg.NkService.SubscribeClasses,
			SendClasses:      a.cfg.NkService.SendClasses,
		},
		ReplyTimeout:   time.Duration(a.cfg.NkService.ReplyTimeout),
		CommandTimeout: time.Duration(a.cfg.NkService.CommandTimeout),
		IdleTimeout:    time.Duration(a.cfg.NkService.IdleTimeout),
		PingInterval:   time.Duration(a.cfg.NkService.PingInterval),
		MaxPending:     a.cfg.ClientQueueSize,
		QueueSize:      a.cfg.ClientQueueSize,
		OriginPatterns: a.cfg.AllowedOrigins,
		Logger:         a.log,
	}))

	// Comet Server (backup): GET /api/v1/events/stream and the admin API;
	// it owns /api/v1/ (more specific than the Centrifugo face's /api/),
	// so unknown paths there answer Comet's 404 shape.
	backup := cometface.New(deps, pb.NewAdminServiceClient(a.bridge), cometface.Options{
		Version:   Version,
		Webhooks:  pb.NewWebhookServiceClient(a.bridge),
		QueueSize: a.cfg.ClientQueueSize,
		Logger:    a.log,
	})
	mux.Handle(cometface.PathAPI, backup)

	// The web console: GET / and /console/.
	ui := console.New(deps, console.Options{
		Admins:      pb.NewAdminServiceClient(a.bridge),
		Webhooks:    pb.NewWebhookServiceClient(a.bridge),
		UserConn:    a.gatewayConn,
		TokenSecret: []byte(a.cfg.TokenSecret),
		SSOOrigins:  a.cfg.Console.SSOOrigins,
		Logger:      a.log,
	})
	for _, p := range console.Routes {
		mux.Handle(p, ui)
	}
	return nil
}

// centrifugoOptions maps the config onto the Centrifugo face: api_secret,
// api_insecure (or no secret at all, see insecureAPI) and the "centrifugo"
// section; the Redis queue defaults to the Redis engine's address.
func (a *App) centrifugoOptions() centrifugo.Options {
	c := a.cfg.Centrifugo
	addr := c.RedisAddress
	if addr == "" && a.cfg.Engine.Type == "redis" {
		addr = a.cfg.Engine.Address
	}
	return centrifugo.Options{
		APISecret:      a.cfg.APISecret,
		APIInsecure:    a.cfg.insecureAPI(),
		RedisAPI:       c.RedisAPI,
		RedisAddress:   addr,
		RedisPrefix:    c.RedisPrefix,
		RedisNumShards: c.RedisNumShards,
		Logger:         a.log,
	}
}

// processCounters gathers the request and traffic counters of this process
// for the node stats (Centrifugo v1 stats/node and HubService.Node): the
// Centrifugo face's API requests, the websocket faces' client messages and
// bytes (bridge/wsconn), and the network gRPC/REST calls (callCounts).
func processCounters(calls *callCounts) hub.ProcessCounters {
	framesIn, bytesIn, bytesOut := wsconn.Totals()
	return hub.ProcessCounters{
		APIRequests:    centrifugo.APIRequests() + calls.api.Load(),
		ClientRequests: framesIn + calls.client.Load(),
		BytesIn:        bytesIn,
		BytesOut:       bytesOut,
	}
}
