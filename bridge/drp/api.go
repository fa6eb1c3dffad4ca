package drp

import (
	"encoding/json"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-hub/switchboard/internal/token"
)

// The login part of DRP's REST API that the Go client and drpcli call before
// they open the websocket (drp.md §9): a token for user name and password,
// its renewal, and the server's Info. Nothing else of /api/v3 is provided;
// every other path answers DRP's 404 error JSON.

// Paths of the login API.
const (
	PathInfo        = "/api/v3/info"
	pathUsersPrefix = "/api/v3/users/"
	pathTokenSuffix = "/token"
)

// Token lifetimes of GET /api/v3/users/<user>/token.
const (
	// DefaultTokenTTL is the lifetime of a token asked for without ?ttl=:
	// what the Go client's UserSession expects (it renews every 300 s).
	DefaultTokenTTL = 600 * time.Second
	// MaxTokenTTL bounds ?ttl= (drpcli caches tokens asked for with 7200).
	MaxTokenTTL = 7 * 24 * time.Hour
	// maxUserLen bounds the user name in the path.
	maxUserLen = 256
)

// userToken is DRP's models.UserToken.
type userToken struct {
	Token string
	Info  info
}

// info is the part of DRP's models.Info a client reads, with the keys DRP
// writes (json tags of models.Info). Lists are empty, never null, as DRP's
// Fill makes them.
type info struct {
	Arch           string              `json:"arch"`
	OS             string              `json:"os"`
	Version        string              `json:"version"`
	ID             string              `json:"id"`
	LocalID        string              `json:"local_id"`
	HaID           string              `json:"ha_id"`
	APIPort        int                 `json:"api_port"`
	Address        string              `json:"address,omitempty"`
	ServerHostname string              `json:"server_hostname"`
	Manager        bool                `json:"manager"`
	Stats          []struct{}          `json:"stats"`
	Features       []string            `json:"features"`
	Scopes         map[string]struct{} `json:"scopes"`
	Errors         []string            `json:"errors"`
	HaEnabled      bool                `json:"ha_enabled"`
	HaPassiveState []struct{}          `json:"ha_passive_state"`
}

// serveInfo answers GET /api/v3/info to any authenticated caller.
func (h *Handler) serveInfo(w http.ResponseWriter, r *http.Request) {
	if _, aerr := h.auth.authenticate(r); aerr != nil {
		h.log.Info("info refused", "status", aerr.status, "reason", aerr.reason, "remote", r.RemoteAddr)
		aerr.write(w)
		return
	}
	writeJSON(w, http.StatusOK, h.info(r))
}

// serveToken answers GET /api/v3/users/<user>/token[?ttl=seconds]: a fresh
// bearer token for <user>, minted with token_secret. The caller must be
// that user and an admin: logged in with its password (Basic, the first
// call of UserSession) or holding an admin's token (the renewals).
func (h *Handler) serveToken(w http.ResponseWriter, r *http.Request, user string) {
	id, aerr := h.auth.authenticate(r)
	if aerr != nil {
		h.log.Info("token refused", "status", aerr.status, "reason", aerr.reason, "remote", r.RemoteAddr)
		aerr.write(w)
		return
	}
	if !id.Admin || id.User != user {
		writeErrorOf(w, modelUsers, clip(user), http.StatusForbidden, errTypeAuth,
			"Cannot access "+r.URL.Path, "Requires: users token "+clip(user))
		return
	}
	ttl := DefaultTokenTTL
	if v := r.URL.Query().Get("ttl"); v != "" {
		secs, err := strconv.Atoi(v)
		if err != nil || secs <= 0 || time.Duration(secs)*time.Second > MaxTokenTTL {
			writeErrorOf(w, modelUsers, clip(user), http.StatusBadRequest, r.Method,
				"ttl: want a number of seconds from 1 to "+strconv.Itoa(int(MaxTokenTTL/time.Second)))
			return
		}
		ttl = time.Duration(secs) * time.Second
	}
	tok, err := token.Mint(h.opts.TokenSecret, id.User, ttl, time.Now())
	if err != nil {
		h.log.Warn("minting a token failed", "user", clip(user), "err", err)
		writeErrorOf(w, modelUsers, clip(user), http.StatusInternalServerError, errTypeAPI,
			"tokens are not available (token_secret is not configured)")
		return
	}
	writeJSON(w, http.StatusOK, userToken{Token: tok, Info: h.info(r)})
}

// tokenUser reads <user> of /api/v3/users/<user>/token; ok is false for
// any other path.
func tokenUser(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, pathUsersPrefix)
	if !ok {
		return "", false
	}
	user, ok := strings.CutSuffix(rest, pathTokenSuffix)
	if !ok || user == "" || len(user) > maxUserLen || strings.Contains(user, "/") {
		return "", false
	}
	return user, true
}

// info describes this server as DRP's models.Info. The port and address are
// those the request came in on.
func (h *Handler) info(r *http.Request) info {
	node := h.deps.Node
	if node == "" {
		node = "switchboard"
	}
	version := h.opts.Version
	if version == "" {
		version = "dev"
	}
	inf := info{
		Arch:           runtime.GOARCH,
		OS:             runtime.GOOS,
		Version:        version,
		ID:             node,
		LocalID:        node,
		HaID:           node,
		ServerHostname: node,
		Stats:          []struct{}{},
		Features:       []string{},
		Scopes:         map[string]struct{}{},
		Errors:         []string{},
		HaPassiveState: []struct{}{},
	}
	if addr, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if host, port, err := net.SplitHostPort(addr.String()); err == nil {
			inf.Address = host
			inf.APIPort, _ = strconv.Atoi(port)
		}
	}
	return inf
}

// writeJSON answers 200-class JSON, as DRP's API does.
func writeJSON(w http.ResponseWriter, code int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, errTypeAPI, "internal error")
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}
