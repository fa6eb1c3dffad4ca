package drp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// postedEvent is the body of POST /api/v3/events: DRP's models.Event.
// Unknown keys are ignored, and key names match case-insensitively, as with
// DRP's decoder (encoding/json).
type postedEvent struct {
	Time      json.RawMessage
	Type      string
	Action    string
	Key       string
	Principal string
	Object    json.RawMessage
	Original  json.RawMessage
}

// serveEvents publishes one event (drp.md §2 "Other ways to publish";
// frontend/events.go): 204 No Content on success. Authentication failures
// answer as for the websocket (empty body); everything after that answers
// with DRP's models.Error JSON: 400 for a body that is not an event, 403 for
// a user that may not publish, 422 for an event the hub refuses.
func (h *Handler) serveEvents(w http.ResponseWriter, r *http.Request) {
	id, aerr := h.auth.authenticate(r)
	if aerr != nil {
		h.log.Info("event post refused", "status", aerr.status, "reason", aerr.reason, "remote", r.RemoteAddr)
		w.Header().Set("Connection", "close") // the body is never read
		aerr.write(w)
		return
	}
	if !id.Admin {
		// Token users may only read, on this face as on the core's API.
		writeError(w, http.StatusForbidden, errTypeAuth,
			"Cannot access "+r.URL.Path, "Requires: events post *")
		return
	}
	if !isJSON(r.Header.Get("Content-Type")) {
		writeError(w, http.StatusBadRequest, r.Method, "Invalid content type: "+r.Header.Get("Content-Type"))
		return
	}
	if r.ContentLength > h.opts.MaxBodyBytes {
		writeError(w, http.StatusRequestEntityTooLarge, r.Method, errTooLarge(h.opts.MaxBodyBytes).Error())
		return
	}
	ev, err := h.decodeEvent(w, r)
	if err != nil {
		code := http.StatusBadRequest
		if errors.As(err, new(errTooLarge)) {
			code = http.StatusRequestEntityTooLarge
		}
		writeError(w, code, r.Method, err.Error())
		return
	}
	if msgs := validatePosted(ev); len(msgs) > 0 {
		writeError(w, http.StatusUnprocessableEntity, errTypeValidation, msgs...)
		return
	}
	pev, err := toEvent(ev, id)
	if err != nil {
		writeError(w, http.StatusBadRequest, r.Method, err.Error())
		return
	}
	if _, err := h.deps.Hub.Publish(r.Context(), &pb.PublishRequest{Event: pev}); err != nil {
		code, typ, msg := hubError(err)
		if code >= http.StatusInternalServerError {
			h.log.Warn("publish failed", "type", ev.Type, "err", err)
		}
		writeError(w, code, typ, msg)
		return
	}
	// The DRP Go client refuses any success without a JSON content type,
	// even an empty 204 (api.R.Do, "Cannot handle content-type").
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusNoContent)
}

// isJSON accepts what DRP's assureContentType accepts: a media type of
// application/json, with any parameters.
func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return strings.Contains(strings.ToLower(contentType), "application/json")
	}
	return mt == "application/json"
}

// decodeEvent reads and decodes the body. An empty body is an empty event
// (DRP decodes nothing and goes on), which validation then refuses.
func (h *Handler) decodeEvent(w http.ResponseWriter, r *http.Request) (postedEvent, error) {
	var ev postedEvent
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.opts.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return ev, errTooLarge(tooBig.Limit)
		}
		return ev, fmt.Errorf("reading body: %w", err)
	}
	if !utf8.Valid(body) {
		// encoding/json would decode the bad bytes as U+FFFD.
		return ev, errors.New("body is not valid UTF-8")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return ev, nil
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return ev, fmt.Errorf("%s: a JSON %s cannot be a %s", typeErr.Field, typeErr.Value, typeErr.Type)
		}
		return ev, fmt.Errorf("body is not a JSON event: %w", err)
	}
	return ev, nil
}

// errTooLarge: the body is over Options.MaxBodyBytes (413).
type errTooLarge int64

func (e errTooLarge) Error() string { return fmt.Sprintf("body is larger than %d bytes", int64(e)) }

// validatePosted checks what the face itself decides; the hub checks the
// rest (channel length, payload size, namespaces).
func validatePosted(ev postedEvent) []string {
	var msgs []string
	switch ev.Type {
	case "":
		msgs = append(msgs, "Type is required")
	case ackType:
		// Ack events are per-connection replies (drp.md §3.2); a published
		// one would look like an ack to every DRP client.
		msgs = append(msgs, fmt.Sprintf("Type %q is reserved for websocket acknowledgements", ackType))
	}
	return msgs
}

// toEvent maps a DRP event onto the canonical event (README "DRP" table).
// A missing or null Object is the JSON null; a missing or null Original is
// absent. Principal defaults to the authenticated user. A zero or missing
// Time leaves the time to the hub (Go clients send the zero time when they
// set none).
func toEvent(ev postedEvent, id identity) (*pb.Event, error) {
	out := &pb.Event{
		Channel:   ev.Type,
		Name:      ev.Action,
		Key:       ev.Key,
		Data:      "null",
		Publisher: &pb.Publisher{User: ev.Principal},
	}
	if out.Publisher.User == "" {
		out.Publisher.User = id.User
	}
	if !isNull(ev.Object) {
		out.Data = compact(ev.Object)
	}
	if !isNull(ev.Original) {
		out.Previous = compact(ev.Original)
	}
	if !isNull(ev.Time) {
		var t time.Time
		if err := json.Unmarshal(ev.Time, &t); err != nil {
			//lint:ignore ST1005 the message names DRP's field, which is capitalised
			return nil, fmt.Errorf("Time: %w", err)
		}
		if !t.IsZero() {
			out.Time = timestamppb.New(t)
		}
	}
	return out, nil
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// compact removes insignificant white space, so the event travels as DRP
// sends it; the value itself is kept byte for byte.
func compact(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		// Unmarshal has validated raw already.
		return string(raw)
	}
	return b.String()
}
