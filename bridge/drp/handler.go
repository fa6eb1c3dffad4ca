package drp

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/switchboard-hub/switchboard/bridge"
	"github.com/switchboard-hub/switchboard/bridge/fanout"
	"github.com/switchboard-hub/switchboard/bridge/wsconn"
	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// Paths the face serves (drp.md §1, §2). Mount both on the handler, e.g.
//
//	for _, p := range h.Routes() { mux.Handle(p, h) }
const (
	PathWS     = "/api/v3/ws"
	PathEvents = "/api/v3/events"
	// PathAPI (and PathAPINoSlash) catch the rest of DRP's API: the login
	// calls of api.go, and a DRP-shaped 404 for everything not provided.
	PathAPI        = "/api/v3/"
	PathAPINoSlash = "/api/v3"
)

// Face names this face in metrics, fan-out groups and logs.
const Face = "drp"

// DefaultReadLimit is the largest client frame accepted when
// Options.ReadLimit is 0. DRP (melody's default) closed the connection on
// frames over 512 bytes; 4096 keeps that behaviour for absurd frames while
// leaving room for long comma lists of keys.
const DefaultReadLimit = 4096

// DefaultMaxBodyBytes bounds a POST /api/v3/events body when
// Options.MaxBodyBytes is 0. The hub enforces its own payload limit
// (max_payload_bytes) on what is left after decoding.
const DefaultMaxBodyBytes = 4 << 20

// Options configure the face. The app fills them from its config file.
type Options struct {
	// TokenSecret is token_secret: the HS256 key of bearer tokens (sub = user).
	// Empty: bearer tokens are refused.
	TokenSecret []byte
	// Admins checks administrators' user names and passwords (the core's
	// AdminService: the one admin check of every face).
	Admins pb.AdminServiceClient
	// AdminNames are the administrators' user names: a token whose subject
	// is one of them carries that admin's rights.
	AdminNames []string
	// ReadLimit is the largest client frame in bytes (0: DefaultReadLimit).
	// A larger frame closes the connection (StatusMessageTooBig).
	ReadLimit int64
	// QueueSize is how many frames may wait for one socket before it is cut
	// off as a slow consumer (client_queue_size; 0: wsconn's default).
	QueueSize int
	// OriginPatterns is allowed_origins, the origin rule of every
	// websocket face (wsconn.CheckOrigin): browser pages of the server's
	// own host or a listed pattern ("*" any); clients that send no Origin
	// header (the DRP CLI and Go client) are always accepted.
	OriginPatterns []string
	// MaxBodyBytes bounds a POST body (0: DefaultMaxBodyBytes).
	MaxBodyBytes int64
	// Version is shown as the version of GET /api/v3/info ("" for "dev").
	Version string
	// Logger (nil: deps.Logger, then slog.Default()).
	Logger *slog.Logger
}

// Handler serves the DRP event websocket and the event POST endpoint.
type Handler struct {
	face   *bridge.Face // lifetime, logger, fan-out
	deps   bridge.Deps
	fan    *fanout.Fanout
	opts   Options
	auth   authenticator
	log    *slog.Logger
	accept wsconn.AcceptOptions
}

// New builds the face. It uses deps.Hub (publish) and deps.Fanout (shared
// upstream streams); when deps.Fanout is nil the face makes its own on
// deps.Hub.
func New(deps bridge.Deps, opts Options) *Handler {
	face := deps.Face(Face, opts.Logger)
	if opts.ReadLimit == 0 {
		opts.ReadLimit = DefaultReadLimit
	}
	if opts.MaxBodyBytes == 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	return &Handler{
		face: face,
		deps: deps,
		fan:  face.Fan,
		opts: opts,
		auth: newAuthenticator(opts),
		log:  face.Log,
		accept: face.Accept(wsconn.AcceptOptions{
			OriginPatterns: opts.OriginPatterns,
			ReadLimit:      opts.ReadLimit,
			QueueSize:      opts.QueueSize,
		}),
	}
}

// Close closes every socket of the face (StatusGoingAway) and waits,
// bounded by ctx, until each has ended. Sockets close too when
// deps.Context ends; Close is what awaits them.
func (h *Handler) Close(ctx context.Context) error { return h.face.Close(ctx) }

// Routes lists the paths to mount the handler on.
func (h *Handler) Routes() []string {
	return []string{PathWS, PathEvents, PathAPI, PathAPINoSlash}
}

// ServeHTTP routes to the websocket, the event POST or the login API (api.go).
// Wrong methods get DRP's 405 error JSON and unknown paths its 404; both
// checks come before authentication, as DRP's router answers before its
// auth middleware runs.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case PathWS:
		if r.Method != http.MethodGet {
			methodNotAllowed(w, r, http.MethodGet)
			return
		}
		h.serveWS(w, r)
	case PathEvents:
		if r.Method != http.MethodPost {
			methodNotAllowed(w, r, http.MethodPost)
			return
		}
		h.serveEvents(w, r)
	case PathInfo:
		if r.Method != http.MethodGet {
			methodNotAllowed(w, r, http.MethodGet)
			return
		}
		h.serveInfo(w, r)
	default:
		user, ok := tokenUser(r.URL.Path)
		if !ok {
			writeErrorOf(w, modelNone, "", http.StatusNotFound, errTypeAPI,
				"Not provided by this server: "+r.Method+" "+clip(r.URL.Path))
			return
		}
		if r.Method != http.MethodGet {
			methodNotAllowed(w, r, http.MethodGet)
			return
		}
		h.serveToken(w, r, user)
	}
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request, allow string) {
	w.Header().Set("Allow", allow)
	writeError(w, http.StatusMethodNotAllowed, r.Method, "Method not allowed")
}

// serveWS authenticates, upgrades and hands the socket to a goroutine of
// its own (see bridge.Deps.Context). When the process shuts down the
// socket is closed with StatusGoingAway.
func (h *Handler) serveWS(w http.ResponseWriter, r *http.Request) {
	id, aerr := h.auth.authenticate(r)
	if aerr != nil {
		h.log.Info("websocket refused", "status", aerr.status, "reason", aerr.reason, "remote", r.RemoteAddr)
		aerr.write(w)
		return
	}
	conn, err := wsconn.Accept(w, r, h.accept)
	if err != nil {
		// Accept has answered (bad handshake, refused origin).
		h.log.Info("websocket upgrade failed", "err", err, "remote", r.RemoteAddr)
		return
	}
	s := newSocket(h, conn, id)
	if !h.face.Go(s.serve) {
		conn.Close(closeShutdown, reasonShutdown) // the face is closing
	}
}
