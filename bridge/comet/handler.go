package comet

import (
	"context"
	"log/slog"
	"mime"
	"net/http"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-hub/switchboard/bridge"
	"github.com/switchboard-hub/switchboard/bridge/wsconn"
	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// Face names this face in metrics and logs.
const Face = "comet"

// Defaults for Options left zero.
const (
	// DefaultLoginTimeout bounds the five login frames.
	DefaultLoginTimeout = 10 * time.Second
	// DefaultMaxBodyBytes bounds an API call's form body.
	DefaultMaxBodyBytes = 64 << 10
	// DefaultQueueSize is how many events may wait for one stream before
	// it is dropped (§5: "an implementation-defined limit").
	DefaultQueueSize = 1024
)

// Options configure the face.
type Options struct {
	// Version is reported by meta/version.
	Version string
	// Webhooks serves AdminMetaWebhookOptionsGet/Set (nil: not served).
	Webhooks pb.WebhookServiceClient
	// QueueSize is how many frames may wait for one stream (0: DefaultQueueSize).
	QueueSize int
	// LoginTimeout bounds the login frames (0: DefaultLoginTimeout).
	LoginTimeout time.Duration
	// MaxBodyBytes bounds an API body (0: DefaultMaxBodyBytes).
	MaxBodyBytes int64
	// Logger (nil: deps.Logger, then slog.Default()).
	Logger *slog.Logger
}

// Handler serves everything under /api/v1/.
type Handler struct {
	face    *bridge.Face // lifetime, logger
	deps    bridge.Deps
	admin   pb.AdminServiceClient
	opts    Options
	log     *slog.Logger
	accept  wsconn.AcceptOptions
	started time.Time
}

// New builds the face on the AdminService client of the core.
func New(deps bridge.Deps, admin pb.AdminServiceClient, opts Options) *Handler {
	face := deps.Face(Face, opts.Logger)
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.LoginTimeout <= 0 {
		opts.LoginTimeout = DefaultLoginTimeout
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	return &Handler{
		face:  face,
		deps:  deps,
		admin: admin,
		opts:  opts,
		log:   face.Log,
		accept: face.Accept(wsconn.AcceptOptions{
			// Comet clients set Origin "to a URL of their choice" and it is
			// not filtered (§1). Credentials travel in frames, not cookies,
			// so a foreign page gains nothing from the socket.
			OriginPatterns: []string{"*"},
			ReadLimit:      MaxFieldBytes,
			QueueSize:      opts.QueueSize,
		}),
		started: time.Now(),
	}
}

// ServeHTTP routes one request under PathAPI.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == PathEventStream {
		h.serveStream(w, r)
		return
	}
	ep := endpoints[r.URL.Path]
	if ep == endpointUnknown {
		apiError{status: http.StatusNotFound, message: "Unknown API endpoint " + clip(r.URL.Path)}.write(w)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		apiError{status: http.StatusMethodNotAllowed, message: "Use POST"}.write(w)
		return
	}
	creds, err := h.readForm(w, r)
	if err != nil {
		apiError{status: http.StatusBadRequest, message: err.Error()}.write(w)
		return
	}
	h.serveAPI(w, r, ep, creds)
}

// readForm reads the admin fields from a bounded form body (urlencoded or
// multipart) and the query.
func (h *Handler) readForm(w http.ResponseWriter, r *http.Request) (Credentials, error) {
	r.Body = http.MaxBytesReader(w, r.Body, h.opts.MaxBodyBytes)
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var err error
	if ct == "multipart/form-data" {
		err = r.ParseMultipartForm(h.opts.MaxBodyBytes)
	} else {
		err = r.ParseForm()
	}
	if err != nil {
		return Credentials{}, parseErr("malformed form body")
	}
	return ParseForm(r.Form, r.Header)
}

// serveStream upgrades an event stream (§1) and serves it on its own
// goroutine.
func (h *Handler) serveStream(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		apiError{status: http.StatusMethodNotAllowed, message: "Use GET with a websocket upgrade"}.write(w)
		return
	}
	allow, err := ParseAllowList(r.URL.Query().Get("allowList"))
	if err != nil {
		apiError{status: http.StatusBadRequest, message: err.Error()}.write(w)
		return
	}
	ws, err := wsconn.Accept(w, r, h.accept)
	if err != nil {
		h.log.Info("websocket upgrade failed", "err", err, "remote", r.RemoteAddr)
		return
	}
	remote := r.RemoteAddr
	if !h.face.Go(func(ctx context.Context) { h.stream(ctx, ws, allow, remote) }) {
		ws.Close(websocket.StatusGoingAway, reasonShutdown) // the face is closing
	}
}

// Close closes every event stream of the face (1001) and waits, bounded by
// ctx, until each has ended. Streams close too when deps.Context ends;
// Close is what awaits them.
func (h *Handler) Close(ctx context.Context) error { return h.face.Close(ctx) }
