// Package webhook delivers the hub's events to HTTP endpoints, as Comet
// Server's webhooks do: every published canonical Event and every lifecycle
// event is turned into a StreamableEvent JSON body, queued durably per
// endpoint (engine.Webhooks: Redis with the Redis engine, a bbolt file beside
// the memory engine) and POSTed with an x-Comet-Tracing-Id header unique per
// attempt. Failures are retried with exponential back-off and jitter up to a
// finite number of attempts, then dead-lettered (logged and counted). Each
// endpoint's events leave one at a time, in order, unless the endpoint
// accepts parallel delivery (Endpoint.Parallel); a slow or dead endpoint
// holds up only its own queue.
//
// Delivery is at least once: an event whose POST succeeded is sent again
// only when the node dies between the answer and removing it from the queue.
package webhook

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Endpoint is Comet's WebhookOption: where to POST, which event types
// (empty: all), "full" or "none" data, and extra headers.
type Endpoint struct {
	URL                   string            `json:"URL"`
	WhiteListedEventTypes []int             `json:"WhiteListedEventTypes"`
	Level                 string            `json:"Level"`
	CustomHeaders         map[string]string `json:"CustomHeaders"`
	// Parallel is not Comet's: how many deliveries may be in flight at
	// once. 0 or 1 keeps the endpoint's order (the next event waits for
	// the current one); N > 1 declares that the endpoint accepts events
	// in parallel and in any order.
	Parallel int `json:"Parallel,omitempty"`
}

// Levels of an endpoint.
const (
	LevelFull = "full"
	LevelNone = "none"
)

// TracingHeader is the header that carries the id of one delivery attempt.
const TracingHeader = "x-Comet-Tracing-Id"

// MaxEndpoints bounds the option map; MaxNameLength an endpoint's name.
const (
	MaxEndpoints  = 64
	MaxNameLength = 200
	MaxParallel   = 64
)

// reservedHeaders are never taken from CustomHeaders: HTTP needs them as
// they are, and the tracing id is ours.
var reservedHeaders = map[string]bool{
	"Host": true, "Content-Length": true, "Content-Type": true, "Transfer-Encoding": true,
	"Connection": true, "Upgrade": true, "Te": true, "Trailer": true,
	http.CanonicalHeaderKey(TracingHeader): true,
}

// full reports whether the endpoint receives event data.
func (e Endpoint) full() bool { return e.Level != LevelNone }

// wants reports whether the endpoint receives events of type typ.
func (e Endpoint) wants(typ int) bool {
	if len(e.WhiteListedEventTypes) == 0 {
		return true
	}
	for _, t := range e.WhiteListedEventTypes {
		if t == typ {
			return true
		}
	}
	return false
}

// Validate checks a whole option map.
func Validate(opts map[string]Endpoint) error {
	if len(opts) > MaxEndpoints {
		return fmt.Errorf("WebhookOptions: %d endpoints, at most %d", len(opts), MaxEndpoints)
	}
	for name, e := range opts {
		if name == "" || len(name) > MaxNameLength || !utf8.ValidString(name) {
			return fmt.Errorf("WebhookOptions: endpoint name %q must be 1 to %d bytes of UTF-8", name, MaxNameLength)
		}
		u, err := url.Parse(e.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("WebhookOptions[%q].URL: %q is not an http(s) URL", name, e.URL)
		}
		if e.Level != "" && e.Level != LevelFull && e.Level != LevelNone {
			return fmt.Errorf("WebhookOptions[%q].Level: %q is not %q or %q", name, e.Level, LevelFull, LevelNone)
		}
		if e.Parallel < 0 || e.Parallel > MaxParallel {
			return fmt.Errorf("WebhookOptions[%q].Parallel: %d is not between 0 and %d", name, e.Parallel, MaxParallel)
		}
		for k, v := range e.CustomHeaders {
			if k == "" || strings.ContainsAny(k, " :\r\n") || strings.ContainsAny(v, "\r\n") {
				return fmt.Errorf("WebhookOptions[%q].CustomHeaders: %q is not a valid header", name, k)
			}
		}
	}
	return nil
}

// equal reports whether two endpoints are configured the same.
func (e Endpoint) equal(o Endpoint) bool {
	if e.URL != o.URL || e.Level != o.Level || e.Parallel != o.Parallel || len(e.WhiteListedEventTypes) != len(o.WhiteListedEventTypes) || len(e.CustomHeaders) != len(o.CustomHeaders) {
		return false
	}
	for i := range e.WhiteListedEventTypes {
		if e.WhiteListedEventTypes[i] != o.WhiteListedEventTypes[i] {
			return false
		}
	}
	for k, v := range e.CustomHeaders {
		if ov, ok := o.CustomHeaders[k]; !ok || ov != v {
			return false
		}
	}
	return true
}
