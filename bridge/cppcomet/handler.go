package cppcomet

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/switchboard-hub/switchboard/bridge"
	"github.com/switchboard-hub/switchboard/bridge/control"
	"github.com/switchboard-hub/switchboard/bridge/fanout"
	"github.com/switchboard-hub/switchboard/bridge/wsconn"
	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// Paths the face serves (§1). comet-server also accepts `//ws/` and
// `//comet-server/ws/`; net/http's ServeMux redirects doubled slashes
// before a handler sees them, so those two work only when the handler is
// mounted without a ServeMux in front.
const (
	PathWS      = "/ws/"
	PathCometWS = "/comet-server/ws/"
)

// Face names this face in sessions, metrics, fan-out groups and logs.
const Face = "cppcomet"

// DefaultReadLimit is the largest client frame when Options.ReadLimit is 0:
// comet-server reads 7- and 16-bit frame lengths only, so a frame over 65535
// bytes closes the connection (§1).
const DefaultReadLimit = 65535

// subprotocol is echoed when a client asks for any (§1: the server answers
// `Sec-WebSocket-Protocol: chat`).
const subprotocol = "chat"

// rpcTimeout bounds every call one command makes to the core.
const rpcTimeout = 10 * time.Second

// Options configure the face. The app fills them from its config file.
type Options struct {
	// TokenSecret is token_secret: the HS256 key of client JWTs, also
	// accepted with the decimal dev id appended. Empty: JWT logins are off
	// (auth hashes still work).
	TokenSecret []byte
	// OriginPatterns is allowed_origins, the origin rule of every
	// websocket face (wsconn.CheckOrigin): no Origin, this server's host,
	// or a listed pattern. A page it refuses gets error 423.
	OriginPatterns []string
	// OriginAllow narrows that rule (§2): the Origin header must also start
	// with one of these hosts, with or without "http://" or "https://", or
	// the connection gets error 423. Empty: no narrowing.
	OriginAllow []string
	// ReadLimit is the largest client frame in bytes (0: DefaultReadLimit).
	ReadLimit int64
	// QueueSize is how many frames may wait for one socket before it is
	// cut off as a slow consumer (client_queue_size; 0: wsconn's default).
	QueueSize int
	// Logger (nil: deps.Logger, then slog.Default()).
	Logger *slog.Logger
}

// Handler serves the comet-server websocket.
type Handler struct {
	face   *bridge.Face // lifetime, logger, fan-out
	deps   bridge.Deps
	fan    *fanout.Fanout
	users  pb.UserServiceClient
	router *control.Router
	auth   authenticator
	opts   Options
	log    *slog.Logger
	accept wsconn.AcceptOptions
	server string // serverInfo `server`
	now    func() time.Time
	// encoders of the client generations (index: Generation), shared by
	// every fan-out group of that generation.
	encoders [3]fanout.Encoder
}

// New builds the face from the core's clients (deps.Hub, deps.Fanout),
// the process's control router (deps.Control, required: every comet
// connection is a core session) and the UserService client.
func New(deps bridge.Deps, users pb.UserServiceClient, opts Options) *Handler {
	if deps.Control == nil {
		panic("cppcomet: New needs deps.Control")
	}
	face := deps.Face(Face, opts.Logger)
	if opts.ReadLimit == 0 {
		opts.ReadLimit = DefaultReadLimit
	}
	server := deps.Node
	if server == "" {
		server = "switchboard"
	}
	h := &Handler{
		face:   face,
		deps:   deps,
		fan:    face.Fan,
		users:  users,
		router: deps.Control,
		auth:   authenticator{secret: opts.TokenSecret, users: users},
		opts:   opts,
		log:    face.Log,
		accept: face.Accept(wsconn.AcceptOptions{
			// The origin rule of every face, narrowed by OriginAllow; a
			// refused page is upgraded and gets error 423 (§2), which
			// stops the JS client from reconnecting.
			OriginPatterns:         opts.OriginPatterns,
			RefuseOriginInProtocol: true,
			ReadLimit:              opts.ReadLimit,
			QueueSize:              opts.QueueSize,
			Subprotocols:           []string{subprotocol},
		}),
		server: server,
		now:    time.Now,
	}
	if len(opts.OriginAllow) > 0 {
		h.accept.OriginFilter = h.originAllowed
	}
	for _, gen := range []Generation{Gen4, Gen3, Gen1} {
		h.encoders[gen] = func(ev *pb.Event) ([]byte, error) {
			return encodeEvent(ev, gen, h.now()), nil
		}
	}
	return h
}

// Routes lists the paths to mount the handler on.
func (h *Handler) Routes() []string { return []string{PathWS, PathCometWS} }

// ServeHTTP upgrades one comet connection and serves it until it ends.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		// comet-server answers the old long-polling POSTs with 404 (§1).
		http.NotFound(w, r)
		return
	}
	params, perr := ParseURL(r.RequestURI)
	ws, err := wsconn.Accept(w, r, h.accept)
	if err != nil && !errors.Is(err, wsconn.ErrOriginRefused) {
		h.log.Info("websocket upgrade failed", "err", err, "remote", r.RemoteAddr)
		return
	}
	// Errors at this stage are one message, then TCP is dropped (§2).
	var herr *HandshakeError
	if !errors.As(perr, &herr) && err != nil {
		herr = errOrigin
	}
	if herr != nil {
		h.log.Info("connection refused", "code", herr.Code, "remote", r.RemoteAddr)
		ws.Send(encodeHandshakeError(herr, h.now()))
		ws.CloseNow()
		drain(ws)
		return
	}
	s := newSocket(h, ws, params)
	if !h.face.Go(s.serve) {
		s.closeShutdown() // the face is closing
	}
}

// Close drops every connection of the face (as a shutdown does) and waits,
// bounded by ctx, until each has ended. Connections close too when
// deps.Context ends; Close is what awaits them.
func (h *Handler) Close(ctx context.Context) error { return h.face.Close(ctx) }

// originAllowed applies OriginAllow (§2): a prefix match on the Origin
// header, with or without its scheme. A request without Origin fails it.
func (h *Handler) originAllowed(origin string) bool {
	host := strings.TrimPrefix(strings.TrimPrefix(origin, "https://"), "http://")
	for _, allowed := range h.opts.OriginAllow {
		if allowed == "" {
			continue
		}
		if strings.HasPrefix(origin, allowed) || strings.HasPrefix(host, allowed) {
			return true
		}
	}
	return false
}

// drain reads until the connection has ended, so that wsconn sees the end.
func drain(ws *wsconn.Conn) {
	for {
		if _, err := ws.Read(ws.Context()); err != nil {
			return
		}
	}
}
