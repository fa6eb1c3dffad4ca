// Package webhooktest is a webhook endpoint for tests: a real HTTP server on
// loopback that records every request and answers with a status the test
// chooses.
package webhooktest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// Request is one POST the endpoint received.
type Request struct {
	Event   Event
	Header  http.Header
	Status  int // what the endpoint answered
	Tracing string
}

// Event is the StreamableEvent body, with Data kept as JSON text.
type Event struct {
	Actor               string
	OwnerOrganizationID string
	ResourceID          string
	Type                int
	Timestamp           int64
	TypeString          string
	Data                json.RawMessage
}

// Receiver is a running endpoint.
type Receiver struct {
	*httptest.Server
	mu     sync.Mutex
	status int
	got    chan Request
}

// New starts an endpoint answering 200, stopped when the test ends.
func New(t testing.TB) *Receiver {
	r := &Receiver{status: http.StatusOK, got: make(chan Request, 10000)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		raw, _ := io.ReadAll(req.Body)
		var ev Event
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Errorf("webhook body %q: %v", raw, err)
		}
		r.mu.Lock()
		status := r.status
		r.mu.Unlock()
		w.WriteHeader(status)
		r.got <- Request{Event: ev, Header: req.Header.Clone(), Status: status, Tracing: req.Header.Get("x-Comet-Tracing-Id")}
	}))
	t.Cleanup(r.Close)
	return r
}

// SetStatus changes what the endpoint answers from now on.
func (r *Receiver) SetStatus(status int) {
	r.mu.Lock()
	r.status = status
	r.mu.Unlock()
}

// Next waits for the next request.
func (r *Receiver) Next(t testing.TB) Request {
	t.Helper()
	select {
	case q := <-r.got:
		return q
	case <-time.After(20 * time.Second):
		t.Fatal("no webhook request")
		return Request{}
	}
}

// NextOK waits for the next request answered 2xx.
func (r *Receiver) NextOK(t testing.TB) Request {
	t.Helper()
	for {
		if q := r.Next(t); q.Status < 300 {
			return q
		}
	}
}
