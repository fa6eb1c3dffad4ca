package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/token"
)

var (
	marshal   = protojson.MarshalOptions{UseProtoNames: true}
	unmarshal = protojson.UnmarshalOptions{}
)

// writeProto answers with a message in the REST face's JSON conventions.
func writeProto(w http.ResponseWriter, m proto.Message) {
	b, err := marshal.Marshal(m)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal error")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b)
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	TOTP     string `json:"totp"`
}

// login starts an admin session key with a password (and TOTP code) and
// logs the browser in with it.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	if o := r.Header.Get("Origin"); o != "" && o != selfOrigin(r) {
		writeError(w, http.StatusForbidden, "cross-origin login refused")
		return
	}
	var req loginRequest
	if !decode(w, r, &req) {
		return
	}
	cred := &pb.AdminCredentials{Username: req.Username, AuthType: pb.AdminAuthType_ADMIN_AUTH_TYPE_PASSWORD,
		Password: req.Password, Address: clientAddr(r), Resource: r.URL.Path}
	if req.TOTP != "" {
		cred.AuthType, cred.Totp = pb.AdminAuthType_ADMIN_AUTH_TYPE_PASSWORD_TOTP, req.TOTP
	}
	resp, err := c.opts.Admins.StartSession(r.Context(), &pb.StartSessionRequest{Credentials: cred})
	if err != nil {
		writeStatus(w, err)
		return
	}
	c.sess.create(w, r, &session{kind: kindAdmin, username: resp.GetUsername(), key: resp.GetSessionKey(), owned: true})
	c.log.Info("console login", "user", resp.GetUsername(), "address", clientAddr(r))
	writeJSON(w, http.StatusOK, map[string]string{"kind": kindAdmin, "username": resp.GetUsername()})
}

type keyRequest struct {
	Kind       string `json:"kind"` // "admin" or "user"
	Username   string `json:"username"`
	SessionKey string `json:"sessionkey"`
}

// loginKey logs the browser in with an admin session key or an end user's
// token: the session-key form and the postMessage single sign-on.
func (c *Console) loginKey(w http.ResponseWriter, r *http.Request) {
	if o := r.Header.Get("Origin"); o != "" && o != selfOrigin(r) {
		writeError(w, http.StatusForbidden, "cross-origin login refused")
		return
	}
	var req keyRequest
	if !decode(w, r, &req) {
		return
	}
	switch req.Kind {
	case kindAdmin:
		resp, err := c.opts.Admins.ValidateSession(r.Context(), &pb.ValidateSessionRequest{SessionKey: req.SessionKey})
		if err != nil || (req.Username != "" && resp.GetUsername() != req.Username) {
			c.log.Warn("console session key refused", "user", req.Username, "address", clientAddr(r))
			writeError(w, http.StatusUnauthorized, "session key refused")
			return
		}
		c.sess.create(w, r, &session{kind: kindAdmin, username: resp.GetUsername(), key: req.SessionKey})
		writeJSON(w, http.StatusOK, map[string]string{"kind": kindAdmin, "username": resp.GetUsername()})
	case kindUser:
		claims, err := token.Verify(req.SessionKey, c.opts.TokenSecret)
		if err != nil || claims.User() != req.Username || c.users == nil {
			c.log.Warn("console user token refused", "user", req.Username, "address", clientAddr(r))
			writeError(w, http.StatusUnauthorized, "session key refused")
			return
		}
		c.sess.create(w, r, &session{kind: kindUser, username: claims.User(), key: req.SessionKey})
		writeJSON(w, http.StatusOK, map[string]string{"kind": kindUser, "username": claims.User()})
	default:
		writeError(w, http.StatusBadRequest, `kind is "admin" or "user"`)
	}
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	id, sess := c.sess.get(r)
	if sess == nil {
		writeJSON(w, http.StatusOK, map[string]string{})
		return
	}
	if !csrfOK(r, sess) {
		writeError(w, http.StatusForbidden, "missing or wrong CSRF token")
		return
	}
	if sess.kind == kindAdmin && sess.owned {
		_, _ = c.opts.Admins.RevokeSession(r.Context(), &pb.RevokeSessionRequest{SessionKey: sess.key})
	}
	c.sess.drop(w, r, id)
	writeJSON(w, http.StatusOK, map[string]string{})
}

type meResponse struct {
	Kind       string   `json:"kind,omitempty"`
	Username   string   `json:"username,omitempty"`
	CSRF       string   `json:"csrf,omitempty"`
	SSOOrigins []string `json:"sso_origins"`
	Webhooks   bool     `json:"webhooks"`
}

func (c *Console) me(w http.ResponseWriter, r *http.Request) {
	out := meResponse{SSOOrigins: c.opts.SSOOrigins, Webhooks: c.opts.Webhooks != nil}
	if out.SSOOrigins == nil {
		out.SSOOrigins = []string{}
	}
	if _, sess := c.sess.get(r); sess != nil {
		out.Kind, out.Username, out.CSRF = sess.kind, sess.username, sess.csrf
	}
	writeJSON(w, http.StatusOK, out)
}

// hub is the client a session's reads go through: the trusted one for
// administrators, the user's own token for end users.
func (c *Console) hub(ctx context.Context, sess *session) (pb.HubServiceClient, context.Context) {
	if sess.kind == kindAdmin {
		return c.deps.Hub, ctx
	}
	return c.users, metadata.AppendToOutgoingContext(ctx, token.AuthorizationKey, "bearer "+sess.key)
}

func (c *Console) history(w http.ResponseWriter, r *http.Request, sess *session) {
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	hub, ctx := c.hub(r.Context(), sess)
	resp, err := hub.History(ctx, &pb.HistoryRequest{Tenant: q.Get("tenant"), Channel: q.Get("channel"), Limit: uint32(limit), Reverse: true})
	if err != nil {
		writeStatus(w, err)
		return
	}
	writeProto(w, resp)
}

func (c *Console) presence(w http.ResponseWriter, r *http.Request, _ *session) {
	q := r.URL.Query()
	resp, err := c.deps.Hub.Presence(r.Context(), &pb.PresenceRequest{Tenant: q.Get("tenant"), Channel: q.Get("channel")})
	if err != nil {
		writeStatus(w, err)
		return
	}
	writeProto(w, resp)
}

func (c *Console) channels(w http.ResponseWriter, r *http.Request, _ *session) {
	q := r.URL.Query()
	tenant := q.Get("tenant")
	if tenant == "" {
		tenant = "*"
	}
	resp, err := c.deps.Hub.Channels(r.Context(), &pb.ChannelsRequest{Tenant: tenant, Prefix: q.Get("prefix"), Limit: 500})
	if err != nil {
		writeStatus(w, err)
		return
	}
	writeProto(w, resp)
}

// statsResponse is the cluster's nodes plus, for the node serving the
// console, its connections per face.
type statsResponse struct {
	Nodes       json.RawMessage    `json:"nodes"`
	Connections map[string]float64 `json:"connections"`
	Time        int64              `json:"time_ms"`
}

func (c *Console) stats(w http.ResponseWriter, r *http.Request, _ *session) {
	resp, err := c.deps.Hub.Stats(r.Context(), &pb.StatsRequest{})
	if err != nil {
		writeStatus(w, err)
		return
	}
	nodes, _ := marshal.Marshal(resp)
	out := statsResponse{Nodes: nodes, Connections: connectionsByFace(), Time: time.Now().UnixMilli()}
	writeJSON(w, http.StatusOK, out)
}

// connectionsByFace reads this process's switchboard_bridge_connections.
func connectionsByFace() map[string]float64 {
	out := map[string]float64{}
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		return out
	}
	for _, mf := range mfs {
		if mf.GetName() != "switchboard_bridge_connections" {
			continue
		}
		for _, m := range mf.GetMetric() {
			face := ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "face" {
					face = l.GetValue()
				}
			}
			out[face] += m.GetGauge().GetValue()
		}
	}
	return out
}

func (c *Console) webhooks(w http.ResponseWriter, r *http.Request, _ *session) {
	if c.opts.Webhooks == nil {
		writeJSON(w, http.StatusOK, map[string]any{"webhooks": []any{}})
		return
	}
	resp, err := c.opts.Webhooks.ListWebhooks(r.Context(), &pb.ListWebhooksRequest{})
	if err != nil {
		writeStatus(w, err)
		return
	}
	writeProto(w, resp)
}

type publishRequest struct {
	Tenant  string `json:"tenant"`
	Channel string `json:"channel"`
	Name    string `json:"name"`
	Key     string `json:"key"`
	Data    string `json:"data"` // JSON text
}

func (c *Console) publish(w http.ResponseWriter, r *http.Request, sess *session) {
	var req publishRequest
	if !decode(w, r, &req) {
		return
	}
	if !json.Valid([]byte(req.Data)) {
		writeError(w, http.StatusBadRequest, "data is not valid JSON")
		return
	}
	ev := &pb.Event{Tenant: req.Tenant, Channel: req.Channel, Name: req.Name, Key: req.Key, Data: req.Data,
		Publisher: &pb.Publisher{User: sess.username, Client: "console"}}
	resp, err := c.deps.Hub.Publish(r.Context(), &pb.PublishRequest{Event: ev})
	if err != nil {
		writeStatus(w, err)
		return
	}
	writeProto(w, resp)
}

type userRequest struct {
	Tenant  string `json:"tenant"`
	User    string `json:"user"`
	Channel string `json:"channel"`
}

func (c *Console) disconnect(w http.ResponseWriter, r *http.Request, sess *session) {
	var req userRequest
	if !decode(w, r, &req) {
		return
	}
	_, err := c.deps.Hub.Disconnect(r.Context(), &pb.DisconnectRequest{Tenant: req.Tenant, User: req.User, Reason: fmt.Sprintf("disconnected by %s in the console", sess.username)})
	if err != nil {
		writeStatus(w, err)
		return
	}
	c.log.Info("console disconnect", "admin", sess.username, "tenant", req.Tenant, "user", req.User)
	writeJSON(w, http.StatusOK, map[string]string{})
}

func (c *Console) unsubscribe(w http.ResponseWriter, r *http.Request, sess *session) {
	var req userRequest
	if !decode(w, r, &req) {
		return
	}
	_, err := c.deps.Hub.Unsubscribe(r.Context(), &pb.UnsubscribeRequest{Tenant: req.Tenant, User: req.User, Channel: req.Channel})
	if err != nil {
		writeStatus(w, err)
		return
	}
	c.log.Info("console unsubscribe", "admin", sess.username, "tenant", req.Tenant, "user", req.User, "channel", req.Channel)
	writeJSON(w, http.StatusOK, map[string]string{})
}
