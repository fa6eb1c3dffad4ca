package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/redis/rueidis"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/app"
	"github.com/switchboard-hub/switchboard/internal/app/apptest"
	"github.com/switchboard-hub/switchboard/internal/redistest"
)

// collector keeps what one subscriber received: the sequence numbers of
// the events, in arrival order, and how it ended.
type collector struct {
	name string
	mu   sync.Mutex
	ns   []int
	err  error // set once the subscriber ended
	done chan struct{}
}

func newCollector(name string) *collector {
	return &collector{name: name, done: make(chan struct{})}
}

func (c *collector) add(n int) {
	c.mu.Lock()
	c.ns = append(c.ns, n)
	c.mu.Unlock()
}

func (c *collector) end(err error) {
	c.mu.Lock()
	c.err = err
	c.mu.Unlock()
	close(c.done)
}

func (c *collector) snapshot() ([]int, error, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.done:
		return slices.Clone(c.ns), c.err, true
	default:
		return slices.Clone(c.ns), nil, false
	}
}

// seq reads the sequence number a test event carries as {"n":N}.
func seq(t *testing.T, data []byte) int {
	var v struct{ N int }
	if err := json.Unmarshal(data, &v); err != nil {
		t.Errorf("event data %s: %v", data, err)
	}
	return v.N
}

// publisher publishes {"n":1}, {"n":2}, ... through hub at a steady pace
// and keeps which were acknowledged, and the codes of those that were not.
type publisher struct {
	mu     sync.Mutex
	acked  []int
	failed map[codes.Code]int
	stop   chan struct{}
	done   chan struct{}
}

func startPublisher(t *testing.T, hub pb.HubServiceClient, channel string) *publisher {
	p := &publisher{failed: map[codes.Code]int{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		tick := time.NewTicker(5 * time.Millisecond) // pace, not synchronisation
		defer tick.Stop()
		for n := 1; ; n++ {
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_, err := hub.Publish(ctx, &pb.PublishRequest{Event: &pb.Event{Channel: channel, Data: fmt.Sprintf(`{"n":%d}`, n)}})
			cancel()
			p.mu.Lock()
			if err == nil {
				p.acked = append(p.acked, n)
			} else {
				p.failed[status.Code(err)]++
			}
			p.mu.Unlock()
		}
	}()
	t.Cleanup(p.halt)
	return p
}

func (p *publisher) halt() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
}

func (p *publisher) counts() (acked, unavailable, failed int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, n := range p.failed {
		failed += n
	}
	return len(p.acked), p.failed[codes.Unavailable], failed
}

// TestRedisRestartNeverSilent: two nodes on one Redis, a publisher on A,
// a gRPC stream, a REST stream, a DRP socket and a comet socket on B. Redis is killed
// (losing everything) and restarted mid-stream. For every subscriber,
// every acknowledged event is delivered, in order, or the subscriber is
// told that events were lost: the gRPC and REST streams end with DATA_LOSS
// and a StreamGap detail, the DRP socket closes with 4001, the comet socket is
// dropped so that CometServerApi.js reconnects. A never acknowledges a
// publish while its own link is down (UNAVAILABLE).
func TestRedisRestartNeverSilent(t *testing.T) {
	srv, a, b, subs := subscribersOnB(t)
	grpcSub, drpSub, cometSub, restSub := subs[0], subs[1], subs[2], subs[3]
	pub := startPublisher(t, a.Hub, "news")
	waitForEvents(t, subs)

	srv.Kill()
	eventually(t, "node B to report itself not ready", 10*time.Second, func() bool { return readyz(b) == http.StatusServiceUnavailable })
	eventually(t, "node A to refuse a publish with UNAVAILABLE", 10*time.Second, func() bool {
		_, unavailable, _ := pub.counts()
		return unavailable > 0
	})
	srv.Restart()
	before, _, _ := pub.counts()
	eventually(t, "publishes to be acknowledged again", 20*time.Second, func() bool {
		acked, _, _ := pub.counts()
		return acked >= before+20
	})
	eventually(t, "node B to be ready again", 20*time.Second, func() bool { return readyz(b) == http.StatusOK })
	pub.halt()
	_, unavailable, failed := pub.counts()
	t.Logf("acknowledged %d publishes; %d refused (%d UNAVAILABLE)", len(pub.acked), failed, unavailable)

	// Each subscriber either has every acknowledged event or has ended.
	for _, c := range subs {
		eventually(t, c.name+" to receive every acknowledged event or end", 20*time.Second, func() bool {
			ns, _, ended := c.snapshot()
			return ended || !slices.ContainsFunc(pub.acked, func(n int) bool { return !slices.Contains(ns, n) })
		})
	}
	for _, c := range subs {
		ns, err, ended := c.snapshot()
		for i := 1; i < len(ns); i++ {
			if ns[i] <= ns[i-1] {
				t.Fatalf("%s: event %d after %d: out of order or twice", c.name, ns[i], ns[i-1])
			}
		}
		last := 0
		if len(ns) > 0 {
			last = ns[len(ns)-1]
		}
		var missing []int
		for _, n := range pub.acked {
			if !slices.Contains(ns, n) {
				if n < last {
					t.Fatalf("%s: acknowledged event %d missing between delivered ones (last %d): a silent hole", c.name, n, last)
				}
				missing = append(missing, n)
			}
		}
		t.Logf("%s: %d delivered (last %d), %d acknowledged after it, ended: %v", c.name, len(ns), last, len(missing), err)
		// Redis lost the channel's history and epoch: B cannot recover,
		// so every subscriber must have been told.
		if !ended {
			t.Fatalf("%s: still open after Redis lost its data; the loss was not signalled", c.name)
		}
	}

	s := status.Convert(grpcSub.err)
	if s.Code() != codes.DataLoss {
		t.Fatalf("gRPC stream ended with %v, want DATA_LOSS", s)
	}
	var gap *pb.StreamGap
	for _, d := range s.Details() {
		if g, ok := d.(*pb.StreamGap); ok {
			gap = g
		}
	}
	if gap == nil || gap.Channel != "news" || gap.From == nil || gap.To == nil || gap.From.Epoch == gap.To.Epoch {
		t.Fatalf("DATA_LOSS detail = %v, want the channel and positions in two epochs", gap)
	}
	var re *restError
	if !errors.As(restSub.err, &re) || re.Code != int(codes.DataLoss) || len(re.Details) == 0 ||
		re.Details[0]["@type"] != "type.googleapis.com/switchboard.v1.StreamGap" || re.Details[0]["channel"] != "news" {
		t.Fatalf("REST stream ended with %#v, want code %d with a StreamGap detail", restSub.err, codes.DataLoss)
	}
	if code := websocket.CloseStatus(drpSub.err); code != 4001 {
		t.Fatalf("DRP socket ended with %v (close code %d), want close code 4001", drpSub.err, code)
	}
	if code := websocket.CloseStatus(cometSub.err); code != -1 {
		t.Fatalf("comet socket got close code %d, want a dropped connection (CometServerApi.js reconnects only then)", code)
	}

	// Resync as the status says: history holds what was published since.
	h, err := b.Hub.History(context.Background(), &pb.HistoryRequest{Channel: "news"})
	if err != nil || len(h.Events) == 0 || h.Position.Epoch != gap.To.Epoch {
		t.Fatalf("history after the gap: %v, %v", h, err)
	}
}

// subscribersOnB starts a private Redis and two nodes on it, and opens a
// gRPC stream, a DRP socket and a comet socket on B, all on channel
// "news".
func subscribersOnB(t *testing.T) (srv *redistest.Server, a, b *apptest.Server, subs []*collector) {
	srv = redistest.Start(t)
	cfg := func(c *app.Config) {
		c.Engine = app.Engine{Type: "redis", Address: srv.Addr, Prefix: "restart"}
		c.Namespaces = []app.Namespace{{Name: "live"}} // keeps no history
	}
	a, b = apptest.Start(t, cfg), apptest.Start(t, cfg)

	grpcSub := newCollector("gRPC stream")
	st, _ := subscribe(t, b.Hub, &pb.SubscribeRequest{Filters: []*pb.Filter{{Channels: []string{"news"}}}})
	go func() {
		for {
			m, err := st.Recv()
			if err != nil {
				grpcSub.end(err)
				return
			}
			if ev := m.GetEvent(); ev != nil {
				grpcSub.add(seq(t, []byte(ev.Data)))
			}
		}
	}()
	drpSub := newCollector("DRP socket")
	readSocket(t, drpSocket(t, b, "bob", "news.*.*"), drpSub, "Object")
	cometSub := newCollector("comet socket")
	ws, _ := cometSocket(t, b, "restart", "news")
	readSocket(t, ws, cometSub, "data")
	restSub := newCollector("REST stream")
	readREST(t, b, restSub)
	return srv, a, b, []*collector{grpcSub, drpSub, cometSub, restSub}
}

// restError is the last line of a REST stream that failed.
type restError struct {
	Code    int
	Message string
	Details []map[string]any
}

func (e *restError) Error() string { return fmt.Sprintf("REST stream error %d: %s", e.Code, e.Message) }

// readREST opens POST /v1/subscribe on channel "news" and collects its
// events until the stream ends; a last {"error":...} line becomes a
// *restError.
func readREST(t *testing.T, srv *apptest.Server, c *collector) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.HTTPURL+"/v1/subscribe", strings.NewReader(`{"filters":[{"channels":["news"]}]}`))
	req.Header.Set("Authorization", "apikey "+apptest.TestSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(resp.Body)
	if !sc.Scan() || !strings.Contains(sc.Text(), `"subscribed"`) {
		t.Fatalf("REST stream: no subscribed first: %s %v", sc.Text(), sc.Err())
	}
	go func() {
		defer resp.Body.Close()
		for sc.Scan() {
			var line struct {
				R struct {
					Event *struct{ Data string }
				} `json:"result"`
				Error *restError
			}
			if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
				t.Errorf("REST line %s: %v", sc.Bytes(), err)
			}
			if line.Error != nil {
				c.end(line.Error)
				return
			}
			if line.R.Event != nil {
				c.add(seq(t, []byte(line.R.Event.Data)))
			}
		}
		c.end(fmt.Errorf("REST stream ended without an error line: %v", sc.Err()))
	}()
}

func waitForEvents(t *testing.T, subs []*collector) {
	eventually(t, "every subscriber to receive events", 20*time.Second, func() bool {
		for _, c := range subs {
			if ns, _, _ := c.snapshot(); len(ns) < 3 {
				return false
			}
		}
		return true
	})
}

// TestPubSubCutRecovers: Redis stays up but cuts every pub/sub
// connection (as it does to a client over its output buffer limit). What
// was published until B's link came back is recovered from history: every
// subscriber gets every acknowledged event, in order, and none is closed.
// Streams that history cannot serve are told: one on a channel without
// history and one on every channel (a wildcard) end with DATA_LOSS.
func TestPubSubCutRecovers(t *testing.T) {
	srv, a, b, subs := subscribersOnB(t)
	noHistory, _ := subscribe(t, b.Hub, &pb.SubscribeRequest{Filters: []*pb.Filter{{Channels: []string{"live:ticks"}}}})
	wildcard, _ := subscribe(t, b.Hub, &pb.SubscribeRequest{Filters: []*pb.Filter{{Names: []string{"tick"}}}})
	pub := startPublisher(t, a.Hub, "news")
	waitForEvents(t, subs)

	admin, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{srv.Addr}, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.Do(context.Background(), admin.B().ClientKill().TypePubsub().Build()).Error(); err != nil {
		t.Fatalf("CLIENT KILL TYPE pubsub: %v", err)
	}
	before, _, _ := pub.counts()
	eventually(t, "publishes to go on", 20*time.Second, func() bool {
		acked, _, _ := pub.counts()
		return acked >= before+20 && readyz(b) == http.StatusOK
	})
	pub.halt()
	for name, st := range map[string]pb.HubService_SubscribeClient{"no history": noHistory, "wildcard": wildcard} {
		if s := streamErr(t, st); s.Code() != codes.DataLoss {
			t.Fatalf("%s stream after the cut ended with %v, want DATA_LOSS", name, s)
		}
	}
	for _, c := range subs {
		eventually(t, c.name+" to receive every acknowledged event", 20*time.Second, func() bool {
			ns, _, ended := c.snapshot()
			return ended || !slices.ContainsFunc(pub.acked, func(n int) bool { return !slices.Contains(ns, n) })
		})
		ns, err, ended := c.snapshot()
		if ended {
			t.Fatalf("%s ended (%v) although history covered the cut", c.name, err)
		}
		for i := 1; i < len(ns); i++ {
			if ns[i] <= ns[i-1] {
				t.Fatalf("%s: event %d after %d: out of order or twice", c.name, ns[i], ns[i-1])
			}
		}
	}
}

// readSocket collects the sequence numbers of a websocket face's frames
// (in the JSON field named field) until the socket ends.
func readSocket(t *testing.T, ws *websocket.Conn, c *collector, field string) {
	go func() {
		for {
			_, b, err := ws.Read(context.Background())
			if err != nil {
				c.end(err)
				return
			}
			var m map[string]json.RawMessage
			if json.Unmarshal(b, &m) != nil || len(m[field]) == 0 {
				continue
			}
			data := m[field]
			var text string
			if json.Unmarshal(data, &text) == nil {
				data = []byte(text) // comet carries some values as their text
			}
			if len(data) == 0 || data[0] != '{' {
				continue // not an event of the test (acks, sys messages)
			}
			c.add(seq(t, data))
		}
	}()
}

func readyz(s *apptest.Server) int {
	r, err := http.Get(s.HTTPURL + "/readyz")
	if err != nil {
		return 0
	}
	r.Body.Close()
	return r.StatusCode
}
