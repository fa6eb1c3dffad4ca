package comet

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-hub/switchboard/bridge/wsconn"
	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// Close reasons of the event stream.
const (
	reasonShutdown = "shutting down"
	reasonUpstream = "event stream ended"
)

// stream serves one event websocket: login (§2.3), then events until
// either side ends it.
func (h *Handler) stream(life context.Context, ws *wsconn.Conn, allow []int32, remote string) {
	ctx, cancel := context.WithCancel(life)
	defer cancel()
	go func() {
		select {
		case <-ws.Done():
		case <-ctx.Done():
			ws.Close(websocket.StatusGoingAway, reasonShutdown)
		}
		cancel()
	}()

	creds, err := h.readLogin(ws)
	if err != nil {
		var pe *ParseError
		if !errors.As(err, &pe) {
			return // the peer left, or sent nothing in time: the socket is gone
		}
		h.refuse(ws, remote, err)
		return
	}
	auth, err := h.admin.Authenticate(ctx, &pb.AuthenticateRequest{Credentials: creds.toProto(remote, PathEventStream)})
	if err != nil {
		h.refuse(ws, remote, err)
		return
	}
	events, err := h.admin.StreamEvents(ctx, &pb.StreamEventsRequest{AllowList: allow})
	if err != nil {
		h.refuse(ws, remote, err)
		return
	}
	// From here the client only listens; what it sends is read and dropped
	// so that pings and its close frame are handled.
	drained := make(chan struct{})
	go func() { defer close(drained); drain(ws) }()
	// Every return below comes with the socket closing: the drain ends.
	defer func() { <-drained }()
	// 200 OK only once the upstream stream is open; HELLO is its first event.
	if !ws.Send(frameOK) {
		return
	}
	h.log.Info("event stream opened", "user", auth.GetUsername(), "remote", remote, "allow", allow)
	for {
		r, err := events.Recv()
		if err != nil {
			h.endStream(ws, err)
			return
		}
		if !ws.Send(encodeEvent(r.GetEvent())) {
			return // closing, or closed as a slow consumer (counted by wsconn)
		}
	}
}

// readLogin reads the five login frames within the login timeout.
func (h *Handler) readLogin(ws *wsconn.Conn) (Credentials, error) {
	ctx, cancel := context.WithTimeout(ws.Context(), h.opts.LoginTimeout)
	defer cancel()
	var frames [LoginFrames][]byte
	for i := range frames {
		b, err := ws.Read(ctx)
		if err != nil {
			return Credentials{}, err
		}
		frames[i] = b
	}
	return ParseLogin(frames)
}

// refuse answers "403 Unauth" and drops the connection (§2.3).
func (h *Handler) refuse(ws *wsconn.Conn, remote string, err error) {
	h.log.Info("event stream refused", "remote", remote, "err", err)
	ws.Send(frameUnauth)
	ws.CloseNow()
	drain(ws)
}

// endStream closes the socket after the upstream stream ended.
func (h *Handler) endStream(ws *wsconn.Conn, err error) {
	code, reason, unexpected := streamEndClose(err)
	if unexpected {
		h.log.Warn("event stream ended", "err", err)
	}
	ws.Close(code, reason)
}

// drain reads until the connection has ended, so that wsconn sees the end.
func drain(ws *wsconn.Conn) {
	for {
		if _, err := ws.Read(ws.Context()); err != nil {
			return
		}
	}
}

// serveAPI runs one admin call (§2.2).
func (h *Handler) serveAPI(w http.ResponseWriter, r *http.Request, ep endpoint, creds Credentials) {
	ctx := r.Context()
	pc := creds.toProto(r.RemoteAddr, r.URL.Path)
	switch ep {
	case endpointSessionStart:
		resp, err := h.admin.StartSession(ctx, &pb.StartSessionRequest{Credentials: pc})
		if err != nil {
			toAPIError(err).write(w)
			return
		}
		writeJSON(w, http.StatusOK, SessionKeyResponse{Status: 200, Message: "OK", SessionKey: resp.GetSessionKey(), SessionType: "admin"})
	case endpointSessionRevoke:
		if _, err := h.admin.Authenticate(ctx, &pb.AuthenticateRequest{Credentials: pc}); err != nil {
			toAPIError(err).write(w)
			return
		}
		// The session revoked is the one the call authenticated with.
		if creds.AuthType == pb.AdminAuthType_ADMIN_AUTH_TYPE_SESSION_KEY {
			if _, err := h.admin.RevokeSession(ctx, &pb.RevokeSessionRequest{SessionKey: creds.SessionKey}); err != nil {
				toAPIError(err).write(w)
				return
			}
		}
		writeJSON(w, http.StatusOK, APIResponse{Status: 200, Message: "OK"})
	case endpointWebhookOptionsGet, endpointWebhookOptionsSet:
		h.serveWebhookOptions(w, r, ep, pc)
	case endpointMetaVersion:
		if _, err := h.admin.Authenticate(ctx, &pb.AuthenticateRequest{Credentials: pc}); err != nil {
			toAPIError(err).write(w)
			return
		}
		writeJSON(w, http.StatusOK, VersionInfo{
			Version: h.opts.Version, VersionCodename: "switchboard",
			ServerStartTime: h.started.Unix(), CurrentTime: time.Now().Unix(),
		})
	}
}

// serveWebhookOptions answers AdminMetaWebhookOptionsGet (the endpoint map)
// and AdminMetaWebhookOptionsSet (replace the whole map from the form field
// WebhookOptions), after the admin check.
func (h *Handler) serveWebhookOptions(w http.ResponseWriter, r *http.Request, ep endpoint, pc *pb.AdminCredentials) {
	ctx := r.Context()
	if _, err := h.admin.Authenticate(ctx, &pb.AuthenticateRequest{Credentials: pc}); err != nil {
		toAPIError(err).write(w)
		return
	}
	if h.opts.Webhooks == nil {
		apiError{status: http.StatusNotFound, message: "webhooks are not served by this process"}.write(w)
		return
	}
	if ep == endpointWebhookOptionsGet {
		resp, err := h.opts.Webhooks.GetWebhookOptions(ctx, &pb.GetWebhookOptionsRequest{})
		if err != nil {
			toAPIError(err).write(w)
			return
		}
		writeJSON(w, http.StatusOK, webhookOptionsFromProto(resp.GetWebhookOptions()))
		return
	}
	m, err := ParseWebhookOptions(r.Form.Get("WebhookOptions"))
	if err != nil {
		apiError{status: http.StatusBadRequest, message: err.Error()}.write(w)
		return
	}
	if _, err := h.opts.Webhooks.SetWebhookOptions(ctx, &pb.SetWebhookOptionsRequest{WebhookOptions: webhookOptionsToProto(m)}); err != nil {
		toAPIError(err).write(w)
		return
	}
	writeJSON(w, http.StatusOK, APIResponse{Status: 200, Message: "OK"})
}
