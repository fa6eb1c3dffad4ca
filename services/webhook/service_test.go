package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/services/engine"
	"github.com/switchboard-hub/switchboard/services/engine/boltstore"
	"github.com/switchboard-hub/switchboard/services/webhook"
)

// testEncoding numbers events by their code and puts the data in the body
// when full; HELLO is type 4000.
type testEncoding struct{}

type body struct {
	Type int
	Data string `json:",omitempty"`
}

func (testEncoding) Type(ev *pb.Event) (int, bool) { return int(ev.Code), ev.Code != 0 }
func (testEncoding) Body(ev *pb.Event, full bool) ([]byte, error) {
	b := body{Type: int(ev.Code)}
	if full {
		b.Data = ev.Data
	}
	return json.Marshal(b)
}
func (testEncoding) Hello(bool) ([]byte, error) { return json.Marshal(body{Type: 4000}) }

// receiver is a webhook endpoint: it records every request and answers
// with the status its fail function chooses.
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	fail func(n int, b body) int // status for the n-th request (from 1)
	reqs []request
	got  chan request
}

type request struct {
	body    body
	header  http.Header
	status  int
	tracing string
}

func newReceiver(t *testing.T, fail func(n int, b body) int) *receiver {
	r := &receiver{fail: fail, got: make(chan request, 1000)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		raw, _ := io.ReadAll(req.Body)
		var b body
		if err := json.Unmarshal(raw, &b); err != nil {
			t.Errorf("body %q: %v", raw, err)
		}
		r.mu.Lock()
		status := http.StatusOK
		if r.fail != nil {
			status = r.fail(len(r.reqs)+1, b)
		}
		rec := request{body: b, header: req.Header.Clone(), status: status, tracing: req.Header.Get(webhook.TracingHeader)}
		r.reqs = append(r.reqs, rec)
		r.mu.Unlock()
		w.WriteHeader(status)
		r.got <- rec
	}))
	t.Cleanup(r.Close)
	return r
}

// next waits for the next request.
func (r *receiver) next(t *testing.T) request {
	t.Helper()
	select {
	case q := <-r.got:
		return q
	case <-time.After(10 * time.Second):
		t.Fatal("no webhook request")
		return request{}
	}
}

// nextOK waits for the next request that was answered 2xx.
func (r *receiver) nextOK(t *testing.T) request {
	t.Helper()
	for {
		if q := r.next(t); q.status < 300 {
			return q
		}
	}
}

func openStore(t testing.TB, path string) *boltstore.Store {
	t.Helper()
	s, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func start(t *testing.T, store engine.Webhooks, eps map[string]webhook.Endpoint, tweak func(*webhook.Config)) *webhook.Service {
	t.Helper()
	cfg := webhook.Config{
		Store: store, Encoding: testEncoding{}, Node: "n1", Endpoints: eps,
		BaseDelay: 5 * time.Millisecond, MaxDelay: 20 * time.Millisecond, Timeout: 2 * time.Second, Poll: 20 * time.Millisecond,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	s, err := webhook.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

func accept(t *testing.T, s *webhook.Service, code int32, data string) {
	t.Helper()
	if err := s.Accept(context.Background(), &pb.Event{Channel: "c", Code: code, Data: data}); err != nil {
		t.Fatal(err)
	}
}

func TestDeliversHelloThenEventsWithHeaders(t *testing.T) {
	r := newReceiver(t, nil)
	s := start(t, openStore(t, filepath.Join(t.TempDir(), "q.db")), map[string]webhook.Endpoint{
		"org": {URL: r.URL + "/hook", CustomHeaders: map[string]string{"Authorization": "Bearer f1d2", "X-Custom": "v", "Content-Length": "1"}},
	}, nil)
	for i := 1; i <= 3; i++ {
		accept(t, s, 4100, fmt.Sprintf(`{"n":%d}`, i))
	}
	hello := r.next(t)
	if hello.body.Type != 4000 {
		t.Fatalf("first request %+v, want HELLO", hello.body)
	}
	tracing := map[string]bool{hello.tracing: true}
	for i := 1; i <= 3; i++ {
		q := r.next(t)
		if q.body.Type != 4100 || q.body.Data != fmt.Sprintf(`{"n":%d}`, i) {
			t.Fatalf("request %d: %+v", i, q.body)
		}
		if q.header.Get("Authorization") != "Bearer f1d2" || q.header.Get("X-Custom") != "v" || q.header.Get("Content-Type") != "application/json" {
			t.Fatalf("headers %v", q.header)
		}
		if q.tracing == "" || tracing[q.tracing] {
			t.Fatalf("tracing id %q empty or reused", q.tracing)
		}
		tracing[q.tracing] = true
	}
}

func TestWhitelistAndLevel(t *testing.T) {
	all := newReceiver(t, nil)
	some := newReceiver(t, nil)
	s := start(t, openStore(t, filepath.Join(t.TempDir(), "q.db")), map[string]webhook.Endpoint{
		"all":  {URL: all.URL, Level: webhook.LevelNone},
		"some": {URL: some.URL, WhiteListedEventTypes: []int{4101}},
	}, nil)
	accept(t, s, 4100, `1`)
	accept(t, s, 4101, `2`)
	accept(t, s, 0, `3`) // no type: no endpoint
	accept(t, s, 4102, `4`)
	for _, want := range []body{{Type: 4000}, {Type: 4100}, {Type: 4101}, {Type: 4102}} {
		if got := all.next(t).body; got != want {
			t.Fatalf("level none endpoint got %+v, want %+v", got, want)
		}
	}
	for _, want := range []body{{Type: 4000}, {Type: 4101, Data: "2"}} {
		if got := some.next(t).body; got != want {
			t.Fatalf("whitelisted endpoint got %+v, want %+v", got, want)
		}
	}
	// The whitelisted endpoint saw nothing else: a last event it wants
	// arrives next.
	accept(t, s, 4101, `5`)
	if got := some.next(t).body; got != (body{Type: 4101, Data: "5"}) {
		t.Fatalf("got %+v", got)
	}
}

func TestRetriesUntilSuccessKeepingOrder(t *testing.T) {
	// Every event fails twice before it is taken.
	fails := map[string]int{}
	r := newReceiver(t, func(_ int, b body) int {
		k := fmt.Sprint(b)
		if fails[k]++; fails[k] <= 2 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	s := start(t, openStore(t, filepath.Join(t.TempDir(), "q.db")), map[string]webhook.Endpoint{"e": {URL: r.URL}}, nil)
	for i := range 5 {
		accept(t, s, 4100, fmt.Sprint(i))
	}
	if got := r.nextOK(t).body; got.Type != 4000 {
		t.Fatalf("first delivered %+v", got)
	}
	for i := range 5 {
		if got := r.nextOK(t).body; got.Data != fmt.Sprint(i) {
			t.Fatalf("delivered %+v, want data %d", got, i)
		}
	}
	waitStatus(t, s, func(st webhook.Status) bool {
		return st.Delivered == 6 && st.Retried == 12 && st.Queued == 0 && st.LastError != ""
	})
}

func TestDeadLetterAfterAttempts(t *testing.T) {
	r := newReceiver(t, func(_ int, b body) int {
		if b.Data == "poison" {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	s := start(t, openStore(t, filepath.Join(t.TempDir(), "q.db")), map[string]webhook.Endpoint{"e": {URL: r.URL}},
		func(c *webhook.Config) { c.MaxAttempts = 3 })
	accept(t, s, 4100, "poison")
	accept(t, s, 4100, `"next"`)
	r.nextOK(t) // HELLO
	for range 3 {
		if q := r.next(t); q.body.Data != "poison" || q.status != 500 {
			t.Fatalf("got %+v", q)
		}
	}
	if q := r.next(t); q.body.Data != `"next"` || q.status != 200 {
		t.Fatalf("after dead-lettering got %+v", q)
	}
	waitStatus(t, s, func(st webhook.Status) bool { return st.DeadLettered == 1 && st.Retried == 2 && st.Delivered == 2 })
}

func TestEndpointDownThenUpLosesNothing(t *testing.T) {
	var mu sync.Mutex
	down := true
	r := newReceiver(t, func(int, body) int {
		mu.Lock()
		defer mu.Unlock()
		if down {
			return http.StatusBadGateway
		}
		return http.StatusOK
	})
	s := start(t, openStore(t, filepath.Join(t.TempDir(), "q.db")), map[string]webhook.Endpoint{"e": {URL: r.URL}},
		func(c *webhook.Config) { c.MaxAttempts = 1000 })
	for i := range 20 {
		accept(t, s, 4100, fmt.Sprint(i))
	}
	// Wait until the endpoint has refused something, then bring it up.
	r.next(t)
	mu.Lock()
	down = false
	mu.Unlock()
	if got := r.nextOK(t).body; got.Type != 4000 {
		t.Fatalf("first delivered %+v", got)
	}
	for i := range 20 {
		if got := r.nextOK(t).body; got.Data != fmt.Sprint(i) {
			t.Fatalf("delivered %+v, want %d", got, i)
		}
	}
}

func TestSlowEndpointDoesNotHoldOthers(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) })
	fast := newReceiver(t, nil)
	s := start(t, openStore(t, filepath.Join(t.TempDir(), "q.db")), map[string]webhook.Endpoint{
		"slow": {URL: slow.URL}, "fast": {URL: fast.URL},
	}, func(c *webhook.Config) { c.Timeout = time.Minute })
	for i := range 10 {
		accept(t, s, 4100, fmt.Sprint(i))
	}
	fast.next(t)
	for i := range 10 {
		if got := fast.next(t).body; got.Data != fmt.Sprint(i) {
			t.Fatalf("fast endpoint got %+v", got)
		}
	}
}

func TestQueueBoundDeadLettersOldest(t *testing.T) {
	store := openStore(t, filepath.Join(t.TempDir(), "q.db"))
	r := newReceiver(t, nil)
	// No worker yet: queue five events for an endpoint of a stopped service.
	s1 := start(t, store, map[string]webhook.Endpoint{"e": {URL: "http://127.0.0.1:1/"}}, func(c *webhook.Config) { c.QueueMax = 3; c.Poll = time.Hour; c.BaseDelay = time.Hour })
	for i := range 5 {
		accept(t, s1, 4100, fmt.Sprint(i))
	}
	s1.Stop()
	// The same endpoint name, now reachable: the three newest are left.
	s2 := start(t, store, map[string]webhook.Endpoint{"e": {URL: r.URL}}, func(c *webhook.Config) { c.QueueMax = 3 })
	var got []string
	for len(got) < 3 {
		q := r.next(t)
		got = append(got, fmt.Sprint(q.body.Type, q.body.Data))
	}
	// HELLO, events 0..4 and the new HELLO, bounded to 3.
	if fmt.Sprint(got) != "[41003 41004 4000]" {
		t.Fatalf("got %v", got)
	}
	waitStatus(t, s2, func(st webhook.Status) bool { return st.Queued == 0 && st.Delivered == 3 })
}

func TestRestartDeliversPending(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q.db")
	store := openStore(t, path)
	var mu sync.Mutex
	up := false
	r := newReceiver(t, func(int, body) int {
		mu.Lock()
		defer mu.Unlock()
		if up {
			return 200
		}
		return 503
	})
	eps := map[string]webhook.Endpoint{"e": {URL: r.URL}}
	s1 := start(t, store, eps, func(c *webhook.Config) { c.MaxAttempts = 1000 })
	for i := range 5 {
		accept(t, s1, 4100, fmt.Sprint(i))
	}
	r.next(t)
	s1.Stop()
	store.Close()
	mu.Lock()
	up = true
	mu.Unlock()
	start(t, openStore(t, path), eps, nil)
	// The restart queues a new HELLO after what was pending.
	want := []string{"4000", "41000", "41001", "41002", "41003", "41004", "4000"}
	for _, w := range want {
		if q := r.nextOK(t); fmt.Sprint(q.body.Type, q.body.Data) != w {
			t.Fatalf("got %+v, want %s", q.body, w)
		}
	}
}

func TestSetEndpointsLive(t *testing.T) {
	a := newReceiver(t, nil)
	b := newReceiver(t, nil)
	var saved []map[string]webhook.Endpoint
	s := start(t, openStore(t, filepath.Join(t.TempDir(), "q.db")), map[string]webhook.Endpoint{"a": {URL: a.URL}},
		func(c *webhook.Config) {
			c.Persist = func(m map[string]webhook.Endpoint) error { saved = append(saved, m); return nil }
		})
	a.next(t)
	if err := s.SetEndpoints(context.Background(), map[string]webhook.Endpoint{"b": {URL: b.URL}}); err != nil {
		t.Fatal(err)
	}
	if got := b.next(t).body; got.Type != 4000 {
		t.Fatalf("new endpoint's first request %+v", got)
	}
	accept(t, s, 4100, "1")
	if got := b.next(t).body; got.Data != "1" {
		t.Fatalf("got %+v", got)
	}
	if len(saved) != 1 || saved[0]["b"].URL != b.URL {
		t.Fatalf("persisted %v", saved)
	}
	if err := s.SetEndpoints(context.Background(), map[string]webhook.Endpoint{"x": {URL: "ftp://nope"}}); err == nil {
		t.Fatal("invalid options accepted")
	}
	select {
	case q := <-a.got:
		t.Fatalf("removed endpoint still got %+v", q.body)
	default:
	}
}

// waitStatus polls the single endpoint's status until ok: the worker
// records a delivery just after the receiver has answered it.
func waitStatus(t *testing.T, s *webhook.Service, ok func(webhook.Status) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := s.List(context.Background())
		if err == nil && len(st) == 1 && ok(st[0]) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("status %+v %v", st, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestParallelEndpointAndOrderedEndpoint: an endpoint with Parallel 3 gets
// three events at once (its receiver answers none until all three are in),
// while an ordered endpoint beside it never has two in flight and gets
// its events in order, although its first event is held until the
// parallel endpoint's three have met.
func TestParallelEndpointAndOrderedEndpoint(t *testing.T) {
	met := make(chan struct{})
	var mu sync.Mutex
	inPar := 0
	par := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var b body
		json.NewDecoder(req.Body).Decode(&b)
		if b.Type == 4000 {
			return
		}
		mu.Lock()
		inPar++
		if inPar == 3 {
			close(met)
		}
		mu.Unlock()
		select {
		case <-met:
		case <-time.After(10 * time.Second):
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer par.Close()
	inOrd, maxOrd := 0, 0
	var order []string
	ord := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var b body
		json.NewDecoder(req.Body).Decode(&b)
		mu.Lock()
		inOrd++
		maxOrd = max(maxOrd, inOrd)
		first := b.Type != 4000 && len(order) == 0
		mu.Unlock()
		if first { // hold it while the parallel endpoint works
			select {
			case <-met:
			case <-time.After(10 * time.Second):
			}
		}
		mu.Lock()
		inOrd--
		if b.Type != 4000 {
			order = append(order, b.Data)
		}
		mu.Unlock()
	}))
	defer ord.Close()
	s := start(t, openStore(t, filepath.Join(t.TempDir(), "q.db")), map[string]webhook.Endpoint{
		"par": {URL: par.URL, Parallel: 3},
		"ord": {URL: ord.URL},
	}, func(c *webhook.Config) { c.MaxAttempts = 1 })
	for i := range 3 {
		accept(t, s, 4100, fmt.Sprint(i))
	}
	select {
	case <-met:
	case <-time.After(10 * time.Second):
		t.Fatal("the parallel endpoint never had three deliveries in flight")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := s.List(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if st[0].Delivered == 4 && st[1].Delivered == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status %+v", st)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := s.SetEndpoints(context.Background(), map[string]webhook.Endpoint{"x": {URL: par.URL, Parallel: webhook.MaxParallel + 1}}); err == nil {
		t.Fatal("Parallel above the limit accepted")
	}
	mu.Lock()
	defer mu.Unlock()
	if maxOrd != 1 || fmt.Sprint(order) != "[0 1 2]" {
		t.Fatalf("ordered endpoint: %d in flight at most, order %v", maxOrd, order)
	}
}
