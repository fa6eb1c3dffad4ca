package nkservice

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/switchboard-hub/switchboard/bridge/control"
	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// callTimeout bounds one call into the core.
const callTimeout = 10 * time.Second

// Login back-off (§2): 100 ms, doubling with each failure on the socket.
const (
	firstRetry = 100 * time.Millisecond
	maxRetry   = 5 * time.Second
)

// validSessionID is what a client may choose as its session id.
var validSessionID = regexp.MustCompile(`^[A-Za-z0-9._:@-]{1,128}$`)

// request runs one client request: login first, then the commands of the
// seed (nkservice.md §3.2).
func (s *socket) request(ctx context.Context, f Frame) {
	if f.Class != ClassCore {
		s.reply(f.TID, nil, errNotImplemented)
		return
	}
	if !s.loggedIn {
		if f.Subclass == "user" && f.Cmd == "login" {
			s.login(ctx, f)
			return
		}
		s.reply(f.TID, nil, errNotAuthenticated)
		return
	}
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	var data json.RawMessage
	var e *Error
	switch f.Subclass + "/" + f.Cmd {
	case "user/login":
		e = errAlreadyAuth
	case "user/list":
		data, e = s.userList(cctx)
	case "user/get":
		data, e = s.userGet(cctx, f.Data)
	case "user/send_event":
		e = s.sendEvent(cctx, f.Data, true)
	case "session/send_event":
		e = s.sendEvent(cctx, f.Data, false)
	case "session/stop":
		data, e = s.sessionStop(cctx, f.Data)
	case "session/cmd":
		s.sessionCmd(f) // answers later
		return
	case "session/log":
		e = s.sessionLog(cctx, f.Data)
	case "event/subscribe":
		e = s.subscribe(cctx, f.Data)
	case "event/unsubscribe":
		e = s.unsubscribe(cctx, f.Data)
	case "event/get_subscriptions":
		s.conn.Send(encodeAck(f.TID)) // §6.1: ack, then the list
		data = s.subscriptionList()
	case "event/send", "event/send_event":
		e = s.eventSend(cctx, f.Data)
	case "core/event":
		// An event fired by the client for the service: accepted (§3.2).
	default:
		e = errUnknownCommand(f.Cmd)
	}
	s.reply(f.TID, data, e)
	if e == nil {
		s.reportUnknown(cctx, f)
	}
}

// reportUnknown tells the caller's session which keys of a command that
// succeeded were not recognised (§3.2): the event
// core/session_event/unrecognized_fields/<session> with body
// {class, subclass, cmd, fields}, sent after the reply, as nkservice does.
func (s *socket) reportUnknown(ctx context.Context, f Frame) {
	fields := UnknownFields(f.Subclass, f.Cmd, f.Data)
	if len(fields) == 0 {
		return
	}
	body := mustJSON(struct {
		Class    string   `json:"class"`
		Subclass string   `json:"subclass"`
		Cmd      string   `json:"cmd"`
		Fields   []string `json:"fields"`
	}{f.Class, f.Subclass, f.Cmd, fields})
	ev := ToEvent(Sub{Class: ClassCore, Subclass: SubclassSessionEvent, Type: typeUnrecognized, ObjID: s.session}, body)
	ev.To = &pb.Recipient{Session: s.session}
	if _, err := s.h.deps.Hub.Send(ctx, &pb.SendRequest{Event: ev}); err != nil {
		s.log.Warn("unrecognized_fields event not sent", "err", err)
	}
}

// decode reads a command's data; unknown keys are accepted (§3.2).
func decode(data json.RawMessage, v any) *Error {
	if err := json.Unmarshal(data, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return errSyntax(te.Field)
		}
		return errSyntax("data")
	}
	return nil
}

func (s *socket) login(ctx context.Context, f Frame) {
	s.conn.Send(encodeAck(f.TID)) // §2: ack first
	var d struct {
		User      string  `json:"user"`
		Password  string  `json:"password"`
		Pass      string  `json:"pass"`
		Token     string  `json:"token"`
		SessionID *string `json:"session_id"`
	}
	if e := decode(f.Data, &d); e != nil {
		s.reply(f.TID, nil, e)
		return
	}
	if d.Password == "" {
		d.Password = d.Pass
	}
	who, ok := s.h.auth.login(credentials{User: d.User, Password: d.Password, Token: d.Token})
	if !ok {
		s.failures++
		wait := min(firstRetry<<(s.failures-1), maxRetry)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-s.conn.Done():
			t.Stop()
			return
		}
		s.reply(f.TID, nil, errUnauthorized)
		return
	}
	id := uuid.NewString()
	if d.SessionID != nil {
		if !validSessionID.MatchString(*d.SessionID) {
			s.fatal(encodeError(f.TID, errInvalidSession), closePolicy, reasonBadSession)
			return
		}
		id = *d.SessionID
	}
	// Set before the session exists: deliveries may log from then on.
	s.log = s.log.With("user", who.User, "session", id)
	if e := s.connect(ctx, who, id); e != nil {
		s.fatal(encodeError(f.TID, e), closePolicy, reasonBadSession)
		return
	}
	s.who, s.loggedIn, s.session = who, true, id
	s.subs.Store(&subState{auto: []Sub{
		{Class: ClassCore, Subclass: SubclassUserEvent, ObjID: who.User},
		{Class: ClassCore, Subclass: SubclassSessionEvent, ObjID: id},
	}})
	s.reply(f.TID, mustJSON(map[string]string{"session_id": id}), nil)
	s.pings.start(s.h.opts.PingInterval, s.ping)
}

// connect makes the socket a core session with the chosen id.
func (s *socket) connect(ctx context.Context, who identity, id string) *Error {
	if s.h.deps.Control == nil {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	_, closeFn, err := s.h.deps.Control.Connect(cctx, &pb.Session{Id: id, User: who.User, Face: Face}, &handlerOf{s})
	switch {
	case errors.Is(err, control.ErrDuplicateSession), status.Code(err) == codes.AlreadyExists:
		// Held on this edge, or by a live session on any node (the core's
		// directory refuses the id).
		return errDuplicatedSession
	case err != nil:
		s.log.Warn("session not registered", "err", err)
		return errInternal
	}
	s.closeSess = closeFn
	return nil
}

func (s *socket) userList(ctx context.Context) (json.RawMessage, *Error) {
	if !s.who.Admin {
		return nil, errUnauthorized
	}
	resp, err := s.h.dir.ListUsers(ctx, &pb.ListUsersRequest{})
	if err != nil {
		return nil, fromStatus(err)
	}
	out := map[string][]string{}
	for _, u := range resp.GetUsers() {
		ids := []string{}
		for _, ss := range u.GetSessions() {
			ids = append(ids, ss.GetId())
		}
		out[u.GetUser()] = ids
	}
	return mustJSON(out), nil
}

func (s *socket) userGet(ctx context.Context, data json.RawMessage) (json.RawMessage, *Error) {
	var d struct {
		User *string `json:"user"`
	}
	if e := decode(data, &d); e != nil {
		return nil, e
	}
	if d.User == nil {
		return nil, errMissingField("user")
	}
	if !s.who.Admin && *d.User != s.who.User {
		return nil, errUnauthorized
	}
	resp, err := s.h.dir.ListSessions(ctx, &pb.ListSessionsRequest{User: *d.User})
	if err != nil {
		return nil, fromStatus(err)
	}
	if len(resp.GetSessions()) == 0 {
		return nil, errUserNotFound
	}
	type info struct {
		Type string `json:"type"`
		Face string `json:"face"`
		Node string `json:"node"`
	}
	out := map[string]info{}
	for _, ss := range resp.GetSessions() {
		out[ss.GetId()] = info{Type: "api_server", Face: ss.GetFace(), Node: ss.GetNode()}
	}
	return mustJSON(out), nil
}

// sendEvent is user/send_event and session/send_event (§3.2): a directed
// event core/user_event/<type>/<user> (or session_event) to every session
// of the user (or to the session), on any node.
func (s *socket) sendEvent(ctx context.Context, data json.RawMessage, toUser bool) *Error {
	var d struct {
		User      *string         `json:"user"`
		SessionID *string         `json:"session_id"`
		Type      string          `json:"type"`
		Body      json.RawMessage `json:"body"`
	}
	if e := decode(data, &d); e != nil {
		return e
	}
	addr := Sub{Class: ClassCore, Type: norm(d.Type)}
	to := &pb.Recipient{}
	if toUser {
		if d.User == nil {
			return errMissingField("user")
		}
		addr.Subclass, addr.ObjID, to.User = SubclassUserEvent, *d.User, *d.User
	} else {
		if d.SessionID == nil {
			return errMissingField("session_id")
		}
		addr.Subclass, addr.ObjID, to.Session = SubclassSessionEvent, *d.SessionID, *d.SessionID
	}
	return s.send(ctx, addr, d.Body, to)
}

// send checks the permission and sends an event: directed when to is set.
func (s *socket) send(ctx context.Context, addr Sub, body json.RawMessage, to *pb.Recipient) *Error {
	if !s.h.opts.Permissions.may(s.who, s.session, addr, true) {
		return errUnauthorized
	}
	if b := nonNull(body); b != nil && b[0] != '{' {
		return errSyntax("body")
	}
	ev := ToEvent(addr, nonNull(body))
	ev.Publisher = &pb.Publisher{User: s.who.User, Client: s.session}
	var err error
	if to != nil {
		ev.To = to
		_, err = s.h.deps.Hub.Send(ctx, &pb.SendRequest{Event: ev})
	} else {
		_, err = s.h.deps.Hub.Publish(ctx, &pb.PublishRequest{Event: ev})
	}
	if err != nil {
		return fromStatus(err)
	}
	return nil
}

func (s *socket) sessionStop(ctx context.Context, data json.RawMessage) (json.RawMessage, *Error) {
	var d struct {
		SessionID *string `json:"session_id"`
	}
	if e := decode(data, &d); e != nil {
		return nil, e
	}
	if d.SessionID == nil {
		return nil, errMissingField("session_id")
	}
	if !s.who.Admin && *d.SessionID != s.session {
		return nil, errUnauthorized
	}
	resp, err := s.h.dir.StopSession(ctx, &pb.StopSessionRequest{SessionId: *d.SessionID, Reason: reasonSessionStop})
	if err != nil {
		return nil, fromStatus(err)
	}
	return mustJSON(map[string]string{"user": resp.GetSession().GetUser()}), nil
}

// sessionCmd relays a command to another session (§3.2): ack now, the
// target's answer under the caller's tid later. The read loop goes on
// meanwhile.
func (s *socket) sessionCmd(f Frame) {
	var d struct {
		SessionID *string         `json:"session_id"`
		Class     *string         `json:"class"`
		Subclass  string          `json:"subclass"`
		Cmd       *string         `json:"cmd"`
		Data      json.RawMessage `json:"data"`
	}
	if e := decode(f.Data, &d); e != nil {
		s.reply(f.TID, nil, e)
		return
	}
	for _, m := range []struct {
		name string
		v    *string
	}{{"session_id", d.SessionID}, {"class", d.Class}, {"cmd", d.Cmd}} {
		if m.v == nil || *m.v == "" {
			s.reply(f.TID, nil, errMissingField(m.name))
			return
		}
	}
	if d.Subclass == "" {
		d.Subclass = defaultSubject
	}
	if strings.Contains(*d.Class, "/") || strings.Contains(d.Subclass, "/") {
		s.reply(f.TID, nil, errSyntax("class"))
		return
	}
	if b := nonNull(d.Data); b != nil && b[0] != '{' {
		s.reply(f.TID, nil, errSyntax("data"))
		return
	}
	if !s.who.Admin {
		s.reply(f.TID, nil, errUnauthorized)
		return
	}
	s.conn.Send(encodeAck(f.TID))
	req := &pb.SendCommandRequest{
		SessionId: *d.SessionID,
		Method:    *d.Class + "/" + d.Subclass + "/" + *d.Cmd,
		Data:      string(nonNull(d.Data)),
		Timeout:   durationpb.New(s.h.opts.CommandTimeout),
		From:      &pb.Publisher{User: s.who.User, Client: s.session},
	}
	go func() {
		ctx, cancel := context.WithTimeout(s.conn.Context(), s.h.opts.CommandTimeout+callTimeout)
		defer cancel()
		resp, err := s.h.dir.SendCommand(ctx, req)
		if err != nil {
			s.reply(f.TID, nil, fromStatus(err))
			return
		}
		s.reply(f.TID, json.RawMessage(resp.GetData()), nil)
		s.reportUnknown(ctx, f)
	}()
}

func (s *socket) sessionLog(ctx context.Context, data json.RawMessage) *Error {
	var d struct {
		Source      *string         `json:"source"`
		Message     *string         `json:"message"`
		Level       *int32          `json:"level"`
		FullMessage string          `json:"full_message"`
		Meta        json.RawMessage `json:"meta"`
	}
	if e := decode(data, &d); e != nil {
		return e
	}
	if d.Source == nil {
		return errMissingField("source")
	}
	if d.Message == nil {
		return errMissingField("message")
	}
	level := int32(1)
	if d.Level != nil {
		if *d.Level < 1 || *d.Level > 7 {
			return errSyntax("level")
		}
		level = *d.Level
	}
	meta := nonNull(d.Meta)
	if meta != nil && meta[0] != '{' {
		return errSyntax("meta")
	}
	_, err := s.h.dir.WriteLog(ctx, &pb.WriteLogRequest{SessionId: s.session, Level: level,
		Source: *d.Source, Message: *d.Message, FullMessage: d.FullMessage, Meta: string(meta)})
	if err != nil {
		return fromStatus(err)
	}
	return nil
}

// subData is the data of event/subscribe, unsubscribe and send.
type subData struct {
	Class    *string         `json:"class"`
	Subclass string          `json:"subclass"`
	Type     string          `json:"type"`
	ObjID    string          `json:"obj_id"`
	Body     json.RawMessage `json:"body"`
	Service  string          `json:"service"`
}

func (d subData) sub() (Sub, *Error) {
	if d.Class == nil || *d.Class == "" || *d.Class == Wildcard {
		return Sub{}, errMissingField("class")
	}
	if d.Service != "" {
		// One service per hub: naming another is naming an unknown one (§6.8).
		return Sub{}, errSyntax("unknown service")
	}
	sub := Sub{Class: *d.Class, Subclass: norm(d.Subclass), Type: norm(d.Type), ObjID: norm(d.ObjID)}
	if b := nonNull(d.Body); b != nil {
		if b[0] != '{' {
			return Sub{}, errSyntax("body")
		}
		sub.Body = objectBody(b)
	}
	return sub, nil
}

func (s *socket) subscribe(ctx context.Context, data json.RawMessage) *Error {
	var d subData
	if e := decode(data, &d); e != nil {
		return e
	}
	sub, e := d.sub()
	if e != nil {
		return e
	}
	if !s.h.opts.Permissions.may(s.who, s.session, sub, false) {
		return errUnauthorized
	}
	st := s.subs.Load()
	explicit := slices.Clone(st.explicit)
	if i := slices.IndexFunc(explicit, func(x Sub) bool { return x.Key() == sub.Key() }); i >= 0 {
		explicit[i] = sub // §6.6: the same fields again replace the body
	} else {
		if len(explicit) >= maxSubscriptions {
			return errSyntax(fmt.Sprintf("more than %d subscriptions", maxSubscriptions))
		}
		explicit = append(explicit, sub)
	}
	return s.setSubs(ctx, explicit)
}

func (s *socket) unsubscribe(ctx context.Context, data json.RawMessage) *Error {
	var d subData
	if e := decode(data, &d); e != nil {
		return e
	}
	d.Body = nil
	sub, e := d.sub()
	if e != nil {
		return e
	}
	explicit := slices.DeleteFunc(slices.Clone(s.subs.Load().explicit), func(x Sub) bool { return x.Key() == sub.Key() })
	return s.setSubs(ctx, explicit) // not subscribed is still ok (§6.6)
}

// setSubs installs the explicit subscriptions: local matching first, then
// the upstream group, then the core's record and presence.
func (s *socket) setSubs(ctx context.Context, explicit []Sub) *Error {
	old := s.subs.Load()
	s.subs.Store(&subState{auto: old.auto, explicit: explicit})
	if err := s.resubscribe(ctx); err != nil {
		s.log.Warn("subscription failed", "err", err)
		return fromStatus(err)
	}
	s.record(ctx)
	return nil
}

// subscriptionList is the get_subscriptions answer: every field, "*" for
// wildcards, body when one was given.
func (s *socket) subscriptionList() json.RawMessage {
	type item struct {
		Class    string          `json:"class"`
		Subclass string          `json:"subclass"`
		Type     string          `json:"type"`
		ObjID    string          `json:"obj_id"`
		Body     json.RawMessage `json:"body,omitempty"`
	}
	star := func(v string) string {
		if v == "" {
			return Wildcard
		}
		return v
	}
	st := s.subs.Load()
	out := []item{}
	auto := slices.Clone(st.auto)
	slices.Reverse(auto) // the seed lists the session's own events first
	for _, sub := range slices.Concat(auto, st.explicit) {
		out = append(out, item{Class: sub.Class, Subclass: star(sub.Subclass), Type: star(sub.Type), ObjID: star(sub.ObjID), Body: sub.Body})
	}
	return mustJSON(out)
}

func (s *socket) eventSend(ctx context.Context, data json.RawMessage) *Error {
	var d subData
	if e := decode(data, &d); e != nil {
		return e
	}
	addr, e := d.sub()
	if e != nil {
		return e
	}
	// User and session events travel directed, as user/send_event does, so
	// that they reach only that user's or session's connections.
	var to *pb.Recipient
	if addr.Class == ClassCore && addr.ObjID != "" {
		switch addr.Subclass {
		case SubclassUserEvent:
			to = &pb.Recipient{User: addr.ObjID}
		case SubclassSessionEvent:
			to = &pb.Recipient{Session: addr.ObjID}
		}
	}
	return s.send(ctx, addr, nonNull(d.Body), to)
}
