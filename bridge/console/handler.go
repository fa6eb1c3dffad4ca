package console

import (
	"context"
	"embed"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"google.golang.org/grpc"

	"github.com/switchboard-hub/switchboard/bridge"
	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

//go:embed assets
var assets embed.FS

// Options configure the console.
type Options struct {
	// Admins checks administrators and their session keys.
	Admins pb.AdminServiceClient
	// Webhooks lists webhook endpoints (nil: the page has none).
	Webhooks pb.WebhookServiceClient
	// UserConn reaches the core without credentials of its own: an end
	// user's calls carry the user's token on it.
	UserConn grpc.ClientConnInterface
	// TokenSecret checks end users' tokens at login (the core checks them
	// again on every call).
	TokenSecret []byte
	// SSOOrigins may log the console in with postMessage and frame it.
	SSOOrigins []string
	// SessionTTL bounds a console session (default 12h).
	SessionTTL time.Duration
	Logger     *slog.Logger
}

// Console serves the page and its API.
type Console struct {
	deps  bridge.Deps
	opts  Options
	log   *slog.Logger
	sess  *sessions
	users pb.HubServiceClient // on UserConn
	mux   *http.ServeMux
	csp   string
}

// Routes the console answers; mount each on the process's mux.
var Routes = []string{"GET /{$}", "/console/"}

// New builds the console.
func New(deps bridge.Deps, opts Options) *Console {
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = 12 * time.Hour
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	c := &Console{deps: deps, opts: opts, log: opts.Logger.With("face", "console"), sess: newSessions(opts.SessionTTL)}
	if opts.UserConn != nil {
		c.users = pb.NewHubServiceClient(opts.UserConn)
	}
	ancestors := "'none'"
	if len(opts.SSOOrigins) > 0 {
		ancestors = strings.Join(opts.SSOOrigins, " ")
	}
	c.csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
		"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors " + ancestors
	static, _ := fs.Sub(assets, "assets")
	files := http.FileServerFS(static)
	m := http.NewServeMux()
	m.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, static, "index.html")
	})
	m.Handle("GET /console/assets/", http.StripPrefix("/console/assets/", files))
	m.HandleFunc("POST /console/api/login", c.login)
	m.HandleFunc("POST /console/api/login-key", c.loginKey)
	m.HandleFunc("POST /console/api/logout", c.logout)
	m.HandleFunc("GET /console/api/me", c.me)
	m.HandleFunc("GET /console/api/events", c.authed(false, c.events))
	m.HandleFunc("GET /console/api/history", c.authed(false, c.history))
	m.HandleFunc("GET /console/api/presence", c.authed(true, c.presence))
	m.HandleFunc("GET /console/api/channels", c.authed(true, c.channels))
	m.HandleFunc("GET /console/api/stats", c.authed(true, c.stats))
	m.HandleFunc("GET /console/api/webhooks", c.authed(true, c.webhooks))
	m.HandleFunc("POST /console/api/publish", c.authed(true, c.publish))
	m.HandleFunc("POST /console/api/disconnect", c.authed(true, c.disconnect))
	m.HandleFunc("POST /console/api/unsubscribe", c.authed(true, c.unsubscribe))
	m.HandleFunc("/console/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such console page or call")
	})
	c.mux = m
	return c
}

// ServeHTTP implements http.Handler.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", c.csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "unsafe-none") // the SSO opener keeps its handle
	c.mux.ServeHTTP(w, r)
}

// authed wraps an API call: a live console session (admin only when
// adminOnly), a valid CSRF token on mutations, an admin key that is still
// valid.
func (c *Console) authed(adminOnly bool, h func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, sess := c.sess.get(r)
		if sess == nil {
			writeError(w, http.StatusUnauthorized, "not logged in")
			return
		}
		if r.Method != http.MethodGet && !csrfOK(r, sess) {
			writeError(w, http.StatusForbidden, "missing or wrong CSRF token")
			return
		}
		if adminOnly && sess.kind != kindAdmin {
			writeError(w, http.StatusForbidden, "administrators only")
			return
		}
		if sess.kind == kindAdmin {
			ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
			_, err := c.opts.Admins.ValidateSession(ctx, &pb.ValidateSessionRequest{SessionKey: sess.key})
			cancel()
			if err != nil {
				c.sess.drop(w, r, id)
				writeError(w, http.StatusUnauthorized, "the admin session ended")
				return
			}
		}
		h(w, r, sess)
	}
}
