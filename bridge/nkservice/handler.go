package nkservice

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/switchboard-hub/switchboard/bridge"
	"github.com/switchboard-hub/switchboard/bridge/fanout"
	"github.com/switchboard-hub/switchboard/bridge/wsconn"
	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// Path is the websocket endpoint (nkservice's listener path is whatever its
// config says, §1).
const Path = "/nkservice/ws"

// Face names this face in sessions, metrics and logs.
const Face = "nkservice"

// Defaults of Options left at zero (§3.1, §5).
const (
	DefaultReplyTimeout   = 5 * time.Second
	DefaultAckTimeout     = 180 * time.Second
	DefaultCommandTimeout = 10 * time.Second
	DefaultMaxPending     = 1024
	DefaultIdleTimeout    = 30 * time.Second // api_server_timeout
)

// Options configure the face.
type Options struct {
	// TokenSecret verifies client tokens presented at login (token_secret).
	TokenSecret []byte
	// Admins log in with user name and password and may use every command.
	Admins []Admin
	// Permissions of users that are not admins.
	Permissions Permissions
	// ReplyTimeout: a server request unanswered (no reply, no ack) this long
	// closes the connection; AckTimeout applies after each ack.
	ReplyTimeout, AckTimeout time.Duration
	// CommandTimeout bounds a session/cmd relay.
	CommandTimeout time.Duration
	// IdleTimeout closes a socket that received no frame and was written
	// none this long (0: DefaultIdleTimeout; negative: never).
	IdleTimeout time.Duration
	// PingInterval: logged-in sockets are sent core/ping at once and then
	// at this interval, each to be answered like any server request
	// (0: no pings, as in nkservice unless a service starts them).
	PingInterval time.Duration
	// MaxPending bounds unanswered server requests per socket; one more
	// closes it as a slow consumer (client_queue_size).
	MaxPending int
	// ReadLimit is the largest client frame (0: DefaultReadLimit).
	ReadLimit int64
	// QueueSize bounds frames waiting for one socket (client_queue_size).
	QueueSize int
	// OriginPatterns are the browser origins allowed (allowed_origins).
	OriginPatterns []string
	Logger         *slog.Logger
}

// Handler serves the NkSERVICE websocket.
type Handler struct {
	// pingData is the data of every ping: {"time":<interval in seconds>}.
	pingData json.RawMessage
	deps     bridge.Deps
	dir      pb.DirectoryServiceClient
	fan      *fanout.Fanout
	opts     Options
	auth     authenticator
	log      *slog.Logger
	accept   wsconn.AcceptOptions
}

// New builds the face on deps (Hub, Sessions, Control, Fanout) and the
// core's DirectoryService.
func New(deps bridge.Deps, dir pb.DirectoryServiceClient, opts Options) *Handler {
	log := opts.Logger
	if log == nil {
		log = deps.Logger
	}
	if log == nil {
		log = slog.Default()
	}
	log = log.With("face", Face)
	if opts.ReplyTimeout == 0 {
		opts.ReplyTimeout = DefaultReplyTimeout
	}
	if opts.AckTimeout == 0 {
		opts.AckTimeout = DefaultAckTimeout
	}
	if opts.CommandTimeout == 0 {
		opts.CommandTimeout = DefaultCommandTimeout
	}
	if opts.IdleTimeout == 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.MaxPending == 0 {
		opts.MaxPending = DefaultMaxPending
	}
	if opts.ReadLimit == 0 {
		opts.ReadLimit = DefaultReadLimit
	}
	fan := deps.Fanout
	if fan == nil {
		fan = fanout.New(deps.Hub, fanout.Options{Logger: log})
	}
	secs := int64((opts.PingInterval + time.Second - 1) / time.Second) // whole seconds, rounded up
	return &Handler{
		pingData: mustJSON(map[string]int64{"time": secs}),
		deps:     deps, dir: dir, fan: fan, opts: opts, log: log,
		auth: authenticator{admins: opts.Admins, tokenSecret: opts.TokenSecret},
		accept: wsconn.AcceptOptions{
			OriginPatterns: opts.OriginPatterns,
			ReadLimit:      opts.ReadLimit,
			QueueSize:      opts.QueueSize,
			Logger:         log,
			Face:           Face,
		},
	}
}

// ServeHTTP upgrades GET requests; credentials come later, in the login
// request (§2).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	conn, err := wsconn.Accept(w, r, h.accept)
	if err != nil {
		h.log.Info("websocket upgrade failed", "err", err, "remote", r.RemoteAddr)
		return
	}
	go newSocket(h, conn).serve(h.deps.Lifetime())
}

// handlerOf is the socket as the core's control router sees it.
type handlerOf struct{ s *socket }

// Disconnect implements control.Handler (HubService.Disconnect,
// DirectoryService.StopSession).
func (c *handlerOf) Disconnect(reason string) {
	if reason == "" {
		reason = reasonSessionStop
	}
	c.s.conn.Close(closePolicy, reason)
}

// Unsubscribe implements control.Handler: the class's subscriptions go;
// with no class named the socket is closed.
func (c *handlerOf) Unsubscribe(channel string) {
	if channel == "" {
		c.s.conn.Close(closePolicy, reasonUnsubscribed)
		return
	}
	// Matching stops at once; the upstream group follows at the socket's
	// next change of subscriptions.
	for {
		old := c.s.subs.Load()
		keep := make([]Sub, 0, len(old.explicit))
		for _, sub := range old.explicit {
			if sub.Class != channel {
				keep = append(keep, sub)
			}
		}
		if c.s.subs.CompareAndSwap(old, &subState{auto: old.auto, explicit: keep}) {
			return
		}
	}
}

// Deliver implements control.Handler: a directed event (user/session
// events, messages sent to the user from any face).
func (c *handlerOf) Deliver(ev *pb.Event) { c.s.deliver(ev, nil) }

// Command implements control.Commander: the relayed command goes to the
// client as a server request; its answer goes back through the core.
func (c *handlerOf) Command(o *pb.CommandOrder) {
	s := c.s
	class, subclass, cmd := splitMethod(o.GetMethod())
	data := json.RawMessage(o.GetData())
	ok := s.ask(class, subclass, cmd, data, func(f Frame) {
		rep := &pb.ReplyCommandRequest{Id: o.GetId()}
		switch f.Result {
		case "ok":
			rep.Data = string(f.Data)
		case "error":
			var e errorData
			if json.Unmarshal(f.Data, &e) != nil || e.Error == "" {
				e = errorData{Code: errInvalidReply.Code, Error: errInvalidReply.Text}
			}
			rep.Error = &pb.CommandError{Code: e.Code, Message: e.Error}
		default:
			rep.Error = &pb.CommandError{Code: errInvalidReply.Code, Message: errInvalidReply.Text}
		}
		go s.h.replyCommand(rep)
	})
	if !ok {
		go s.h.replyCommand(&pb.ReplyCommandRequest{Id: o.GetId(), Error: &pb.CommandError{Code: errInternal.Code, Message: errInternal.Text}})
	}
}

func (h *Handler) replyCommand(rep *pb.ReplyCommandRequest) {
	ctx, cancel := context.WithTimeout(h.deps.Lifetime(), callTimeout)
	defer cancel()
	if _, err := h.deps.Sessions.ReplyCommand(ctx, rep); err != nil {
		h.log.Warn("command answer not delivered", "err", err)
	}
}

// splitMethod reads "class/subclass/cmd" (or "class/cmd").
func splitMethod(m string) (class, subclass, cmd string) {
	parts := strings.SplitN(m, "/", 3)
	switch len(parts) {
	case 3:
		return parts[0], parts[1], parts[2]
	case 2:
		return parts[0], defaultSubject, parts[1]
	}
	return ClassCore, defaultSubject, m
}

// record tells the core the socket's subscriptions, and puts the socket in
// the presence of the classes it subscribed to. Failures only cost what
// other callers see of the session.
func (s *socket) record(ctx context.Context) {
	if s.h.deps.Control == nil {
		return
	}
	st := s.subs.Load()
	req := &pb.SetSubscriptionsRequest{SessionId: s.session}
	classes := map[string]bool{}
	for _, sub := range st.explicit {
		rs := &pb.SessionSubscription{Filter: sub.Filter()}
		if sub.Body != nil {
			rs.Data = string(sub.Body)
		}
		req.Subscriptions = append(req.Subscriptions, rs)
		classes[sub.Class] = true
	}
	if _, err := s.h.dir.SetSubscriptions(ctx, req); err != nil {
		s.log.Debug("subscriptions not recorded", "err", err)
	}
	var join []string
	for c := range classes {
		join = append(join, c)
	}
	if _, err := s.h.deps.Sessions.Leave(ctx, &pb.LeaveRequest{SessionId: s.session}); err != nil {
		s.log.Debug("presence leave failed", "err", err)
	}
	if len(join) > 0 {
		if _, err := s.h.deps.Sessions.Join(ctx, &pb.JoinRequest{SessionId: s.session, Channels: join}); err != nil {
			s.log.Debug("presence join failed", "err", err)
		}
	}
}
