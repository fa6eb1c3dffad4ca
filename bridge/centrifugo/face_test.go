package centrifugo_test

// Tests of the face against a real server (apptest): HTTP on a real socket,
// the real core behind it, and gRPC subscribers on real TCP connections to
// see the effect of every command.

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/app"
	"github.com/switchboard-hub/switchboard/internal/app/apptest"
	"github.com/switchboard-hub/switchboard/internal/redistest"
)

// waitFor bounds every wait for a stream message; nothing sleeps.
const waitFor = 10 * time.Second

// sub is a live gRPC Subscribe stream of one session.
type sub struct {
	session *pb.Session
	msgs    chan *pb.SubscribeResponse
	errc    chan error
}

// subscribe connects a session of user (client id client, info JSON) and
// opens a Subscribe stream for it on channels ("" = any channel). It returns
// once the stream is confirmed.
func subscribe(t *testing.T, srv *apptest.Server, user, client, info string, channels ...string) *sub {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cr, err := srv.Sessions.Connect(ctx, &pb.ConnectRequest{Session: &pb.Session{User: user, Client: client, Info: info, Face: "grpc"}})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	var filters []*pb.Filter
	if len(channels) == 1 && channels[0] == "" {
		filters = []*pb.Filter{{}}
	} else {
		filters = []*pb.Filter{{Channels: channels}}
	}
	stream, err := srv.Hub.Subscribe(ctx, &pb.SubscribeRequest{Filters: filters, SessionId: cr.GetSession().GetId()})
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	s := &sub{session: cr.GetSession(), msgs: make(chan *pb.SubscribeResponse, 64), errc: make(chan error, 1)}
	go pump(stream, s)
	m := s.next(t)
	if m.GetSubscribed() == nil {
		t.Fatalf("first message %v, want subscribed", m)
	}
	return s
}

func pump(stream grpc.ServerStreamingClient[pb.SubscribeResponse], s *sub) {
	for {
		m, err := stream.Recv()
		if err != nil {
			s.errc <- err
			return
		}
		if m.GetHeartbeat() != nil {
			continue
		}
		s.msgs <- m
	}
}

// next returns the next message, failing if the stream ends or stays quiet.
// Messages received before the stream ended come first.
func (s *sub) next(t *testing.T) *pb.SubscribeResponse {
	t.Helper()
	select {
	case m := <-s.msgs:
		return m
	default:
	}
	select {
	case m := <-s.msgs:
		return m
	case err := <-s.errc:
		t.Fatalf("stream ended: %v", err)
	case <-time.After(waitFor):
		t.Fatalf("no stream message within %v", waitFor)
	}
	return nil
}

// event returns the next message, which must be an event.
func (s *sub) event(t *testing.T) *pb.Event {
	t.Helper()
	m := s.next(t)
	if m.GetEvent() == nil {
		t.Fatalf("got %v, want an event", m)
	}
	return m.GetEvent()
}

// ended waits for the stream to end and returns why.
func (s *sub) ended(t *testing.T) error {
	t.Helper()
	select {
	case m := <-s.msgs:
		t.Fatalf("got %v, want the stream to end", m)
	default:
	}
	select {
	case m := <-s.msgs:
		t.Fatalf("got %v, want the stream to end", m)
	case err := <-s.errc:
		return err
	case <-time.After(waitFor):
		t.Fatalf("stream still open after %v", waitFor)
	}
	return nil
}

// api posts one signed JSON body to the server's /api/ and returns the
// answer body, requiring 200.
func api(t *testing.T, srv *apptest.Server, body string) string {
	t.Helper()
	return string(wantOK(t, postSigned(t, srv.HTTPURL+"/api/", apptest.TestSecret, body)))
}

func TestFacePublishReachesGRPCSubscriber(t *testing.T) {
	srv := apptest.Start(t, nil)
	s := subscribe(t, srv, "42", "c42", "", "news")
	data := `{"input": "hello" ,"n":[1, 2.50],"s":"\u00e9<"}`
	got := api(t, srv, `{"method":"publish","params":{"channel":"news","data":`+data+`,"client":"api-client","uid":"msg-1"},"uid":"req-1"}`)
	if want := `[{"uid":"req-1","method":"publish","error":null,"body":null}]`; got != want {
		t.Fatalf("reply %s, want %s", got, want)
	}
	ev := s.event(t)
	if ev.GetData() != data {
		t.Fatalf("data %q, want the exact bytes %q", ev.GetData(), data)
	}
	if ev.GetChannel() != "news" || ev.GetId() != "msg-1" || ev.GetPublisher().GetClient() != "api-client" {
		t.Fatalf("event %v: want channel news, id msg-1, publisher.client api-client", ev)
	}
}

func TestFaceSign(t *testing.T) {
	srv := apptest.Start(t, nil)
	body := `{"method":"channels"}`
	wantOK(t, postSigned(t, srv.HTTPURL+"/api/", apptest.TestSecret, body))
	wantStatus(t, post(t, srv.HTTPURL+"/api/", "application/json", body, nil), http.StatusBadRequest)
	wantStatus(t, post(t, srv.HTTPURL+"/api/", "application/json", body,
		map[string]string{"X-API-Sign": strings.ToUpper(apiSign(apptest.TestSecret, body))}), http.StatusUnauthorized)
	wantStatus(t, postSigned(t, srv.HTTPURL+"/api/", "wrong", body), http.StatusUnauthorized)

	r := post(t, srv.HTTPURL+"/api", "application/json", body, nil)
	if r.code != http.StatusMovedPermanently {
		t.Fatalf("/api answered %d, want 301", r.code)
	}

	insecure := apptest.Start(t, func(c *app.Config) { c.APIInsecure = true })
	wantOK(t, post(t, insecure.HTTPURL+"/api/", "application/json", body, nil))
}

// volatile masks what changes from run to run in node descriptions.
var volatile = []struct {
	re   *regexp.Regexp
	repl string
}{
	{regexp.MustCompile(`"uid":"[^"]*","version":"[^"]*","name":"[^"]*","started_at":\d+`), `"uid":"NODE","version":"V","name":"NAME","started_at":0`},
	{regexp.MustCompile(`("(?:node|client|num|memory|http|bytes|cpu)_[a-z_]*"|"gomaxprocs"):\d+`), `$1:0`},
	{timestamp, `"timestamp":"T"`},
}

// timestamp is a history entry's "timestamp", the unix seconds as a string.
var timestamp = regexp.MustCompile(`"timestamp":"(\d+)"`)

func mask(s string) string {
	for _, v := range volatile {
		s = v.re.ReplaceAllString(s, v.repl)
	}
	return s
}

func TestFaceMethodShapes(t *testing.T) {
	srv := apptest.Start(t, func(c *app.Config) {
		c.Namespaces = []app.Namespace{{Name: "public", HistorySize: 10, HistoryTTL: app.Duration(time.Minute), Presence: true}}
	})
	// Two connections of one user in the channel's presence, with v1-style
	// ClientInfo and with plain connection info.
	for _, c := range []struct{ client, info string }{
		{"a1c2f99d", `{"default_info":{"first_name":"Alexandr"},"channel_info":{"channel_extra_info_example":"x"}}`},
		{"e5ee0ab0", `{"first_name":"Alexandr"}`},
	} {
		s := subscribe(t, srv, "2694", c.client, c.info, "$public:chat")
		if _, err := srv.Sessions.Join(context.Background(), &pb.JoinRequest{SessionId: s.session.GetId(), Channels: []string{"$public:chat"}}); err != nil {
			t.Fatalf("Join: %v", err)
		}
	}
	api(t, srv, `[{"method":"publish","params":{"channel":"$public:chat","data":{"input":"hello"},"uid":"m1"}},`+
		`{"method":"publish","params":{"channel":"$public:chat","data":{"input": "world"},"client":"a1c2f99d","uid":"m2"}}]`)

	checkNodeCounters(t, api(t, srv, `{"method":"node"}`), srv)

	for _, m := range []struct{ name, body string }{
		{"face_presence", `{"method":"presence","params":{"channel":"$public:chat"}}`},
		{"face_history", `{"method":"history","params":{"channel":"$public:chat"}}`},
		{"face_channels", `{"method":"channels","params":{}}`},
		{"face_stats", `{"method":"stats","params":{}}`},
		{"face_node", `{"method":"node","params":{}}`},
		{"face_writes", `[{"method":"publish","params":{"channel":"x","data":1},"uid":"1"},` +
			`{"method":"broadcast","params":{"channels":["x","y"],"data":2},"uid":"2"},` +
			`{"method":"unsubscribe","params":{"channel":"x","user":"nobody"},"uid":"3"},` +
			`{"method":"disconnect","params":{"user":"nobody"},"uid":"4"}]`},
	} {
		t.Run(m.name, func(t *testing.T) { golden(t, m.name, []byte(mask(api(t, srv, m.body)))) })
	}
}

func TestFaceUnsubscribe(t *testing.T) {
	srv := apptest.Start(t, nil)
	s := subscribe(t, srv, "42", "c42", "", "news", "other")
	other := subscribe(t, srv, "43", "c43", "", "news")

	got := api(t, srv, `{"method":"unsubscribe","params":{"channel":"news","user":"42"}}`)
	if want := `[{"method":"unsubscribe","error":null,"body":null}]`; got != want {
		t.Fatalf("reply %s, want %s", got, want)
	}
	m := s.next(t)
	if m.GetUnsubscribed().GetChannel() != "news" {
		t.Fatalf("got %v, want unsubscribed from news", m)
	}
	// news no longer reaches user 42, other channels still do; user 43 is
	// untouched.
	api(t, srv, `[{"method":"publish","params":{"channel":"news","data":"n"}},{"method":"publish","params":{"channel":"other","data":"o"}}]`)
	if ev := s.event(t); ev.GetChannel() != "other" {
		t.Fatalf("user 42 got %v, want only the event of other", ev)
	}
	if ev := other.event(t); ev.GetChannel() != "news" {
		t.Fatalf("user 43 got %v, want the event of news", ev)
	}

	// An empty channel means every channel: the stream ends.
	api(t, srv, `{"method":"unsubscribe","params":{"channel":"","user":"42"}}`)
	if err := s.ended(t); err == nil || errors.Is(err, io.EOF) {
		t.Fatalf("stream ended with %v, want an error status", err)
	}
}

func TestFaceDisconnect(t *testing.T) {
	srv := apptest.Start(t, nil)
	a := subscribe(t, srv, "42", "c1", "", "news")
	b := subscribe(t, srv, "42", "c2", "", "")
	other := subscribe(t, srv, "43", "c3", "", "news")
	got := api(t, srv, `{"method":"disconnect","params":{"user":"42"}}`)
	if want := `[{"method":"disconnect","error":null,"body":null}]`; got != want {
		t.Fatalf("reply %s, want %s", got, want)
	}
	for _, s := range []*sub{a, b} {
		err := s.ended(t)
		if _, ok := status.FromError(err); !ok || err == nil {
			t.Fatalf("stream ended with %v, want a status", err)
		}
	}
	api(t, srv, `{"method":"publish","params":{"channel":"news","data":1}}`)
	if ev := other.event(t); ev.GetData() != "1" {
		t.Fatalf("user 43 got %v after user 42 was disconnected", ev)
	}
}

func TestFaceUserLimitedChannel(t *testing.T) {
	srv := apptest.Start(t, nil)
	owner := subscribe(t, srv, "42", "c42", "", "news#42")
	stranger := subscribe(t, srv, "43", "c43", "", "") // every channel
	api(t, srv, `[{"method":"publish","params":{"channel":"news#42","data":"private"}},{"method":"publish","params":{"channel":"public","data":"public"}}]`)
	if ev := owner.event(t); ev.GetChannel() != "news#42" || ev.GetData() != `"private"` {
		t.Fatalf("user 42 got %v, want the news#42 event", ev)
	}
	if ev := stranger.event(t); ev.GetChannel() != "public" {
		t.Fatalf("user 43 got %v: news#42 must reach only user 42", ev)
	}
}

func TestFaceNamespaces(t *testing.T) {
	srv := apptest.Start(t, func(c *app.Config) {
		c.Namespaces = []app.Namespace{
			{Name: "hist", HistorySize: 2, HistoryTTL: app.Duration(time.Minute), Presence: true},
			{Name: "bare"},
		}
	})
	long := strings.Repeat("c", 256)
	tests := []struct{ body, want string }{
		{`{"method":"publish","params":{"channel":"nope:x","data":1}}`,
			`[{"method":"publish","error":"namespace not found","advice":"fix","body":null}]`},
		{`{"method":"publish","params":{"channel":"$nope:x","data":1}}`,
			`[{"method":"publish","error":"namespace not found","advice":"fix","body":null}]`},
		{`{"method":"history","params":{"channel":"nope:x"}}`,
			`[{"method":"history","error":"namespace not found","advice":"fix","body":{"channel":"nope:x","data":null}}]`},
		{`{"method":"history","params":{"channel":"bare:x"}}`,
			`[{"method":"history","error":"not available","body":{"channel":"bare:x","data":null}}]`},
		{`{"method":"presence","params":{"channel":"bare:x"}}`,
			`[{"method":"presence","error":"not available","body":{"channel":"bare:x","data":null}}]`},
		{`{"method":"presence","params":{"channel":"$hist:x"}}`,
			`[{"method":"presence","error":null,"body":{"channel":"$hist:x","data":{}}}]`},
		{`{"method":"publish","params":{"channel":"` + long + `","data":1}}`,
			`[{"method":"publish","error":"invalid message","advice":"fix","body":null}]`},
		{`{"method":"history","params":{"channel":"` + long + `"}}`,
			`[{"method":"history","error":"invalid message","advice":"fix","body":{"channel":"` + long + `","data":null}}]`},
		{`{"method":"broadcast","params":{"channels":["hist:a","nope:b","hist:c"],"data":1}}`,
			`[{"method":"broadcast","error":"namespace not found","advice":"fix","body":null}]`},
		{`{"method":"unsubscribe","params":{"channel":"nope:x","user":"1"}}`,
			`[{"method":"unsubscribe","error":"namespace not found","advice":"fix","body":null}]`},
	}
	for _, tt := range tests {
		if got := api(t, srv, tt.body); got != tt.want {
			t.Fatalf("%.80s:\n got %.300s\nwant %.300s", tt.body, got, tt.want)
		}
	}

	// History keeps history_size messages, newest first.
	before := time.Now().Unix()
	api(t, srv, `[{"method":"publish","params":{"channel":"hist:x","data":1,"uid":"a"}},`+
		`{"method":"publish","params":{"channel":"hist:x","data":2,"uid":"b"}},`+
		`{"method":"publish","params":{"channel":"hist:x","data":3,"uid":"c"}}]`)
	got := api(t, srv, `{"method":"history","params":{"channel":"hist:x"}}`)
	// Each entry carries its publication time as v1's "timestamp".
	for _, m := range timestamp.FindAllStringSubmatch(got, -1) {
		if ts, _ := strconv.ParseInt(m[1], 10, 64); ts < before || ts > time.Now().Unix() {
			t.Fatalf("history timestamp %s, want the publication time (%d or later)", m[1], before)
		}
	}
	got = timestamp.ReplaceAllString(got, `"timestamp":"T"`)
	want := `[{"method":"history","error":null,"body":{"channel":"hist:x","data":[` +
		`{"uid":"c","timestamp":"T","channel":"hist:x","data":3},{"uid":"b","timestamp":"T","channel":"hist:x","data":2}]}}]`
	if got != want {
		t.Fatalf("history\n got %s\nwant %s", got, want)
	}
}

func TestFaceBroadcastStopsAtFirstError(t *testing.T) {
	srv := apptest.Start(t, func(c *app.Config) {
		c.Namespaces = []app.Namespace{{Name: "ns"}}
	})
	s := subscribe(t, srv, "42", "c42", "", "ns:a", "ns:c", "marker")
	got := api(t, srv, `{"method":"broadcast","params":{"channels":["ns:a","bad:b","ns:c"],"data":"x"}}`)
	if want := `[{"method":"broadcast","error":"namespace not found","advice":"fix","body":null}]`; got != want {
		t.Fatalf("reply %s, want %s", got, want)
	}
	// Whatever was published before the failing channel, nothing after it
	// is: the next event on the stream after any ns:a is the marker.
	api(t, srv, `{"method":"publish","params":{"channel":"marker","data":"m"}}`)
	for {
		ev := s.event(t)
		if ev.GetChannel() == "ns:c" {
			t.Fatalf("broadcast went on past the failing channel")
		}
		if ev.GetChannel() == "marker" {
			break
		}
	}
	got = api(t, srv, `{"method":"broadcast","params":{"channels":["ns:a","ns:c"],"data":{"k": "v"},"client":"cl"}}`)
	if want := `[{"method":"broadcast","error":null,"body":null}]`; got != want {
		t.Fatalf("reply %s, want %s", got, want)
	}
	for _, ch := range []string{"ns:a", "ns:c"} {
		if ev := s.event(t); ev.GetChannel() != ch || ev.GetData() != `{"k": "v"}` || ev.GetPublisher().GetClient() != "cl" {
			t.Fatalf("got %v, want the broadcast on %s", ev, ch)
		}
	}
}

// checkNodeCounters checks that node's values (masked in the golden file)
// are the core's: two sessions of one user, two publications so far.
func checkNodeCounters(t *testing.T, reply string, srv *apptest.Server) {
	t.Helper()
	var r []struct {
		Body struct {
			Data struct {
				UID       string            `json:"uid"`
				StartedAt int64             `json:"started_at"`
				Metrics   map[string]uint64 `json:"metrics"`
				Clients   uint64            `json:"num_clients"`
				Published uint64            `json:"num_msg_published"`
			} `json:"data"`
		} `json:"body"`
	}
	if err := json.Unmarshal([]byte(reply), &r); err != nil || len(r) != 1 {
		t.Fatalf("node reply %s: %v", reply, err)
	}
	d := r[0].Body.Data
	node, err := srv.Hub.Node(context.Background(), &pb.NodeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if d.UID != node.GetNode().GetId() || d.StartedAt != node.GetNode().GetStartedAt().GetSeconds() || d.StartedAt == 0 {
		t.Fatalf("node uid/started_at %q/%d, want %q/%d", d.UID, d.StartedAt, node.GetNode().GetId(), node.GetNode().GetStartedAt().GetSeconds())
	}
	if d.Metrics["node_num_clients"] != 2 || d.Clients != 2 || d.Metrics["node_num_unique_clients"] != 1 {
		t.Fatalf("node counts %v / num_clients %d: want 2 sessions of 1 user", d.Metrics, d.Clients)
	}
	if d.Published < 2 || d.Metrics["node_num_client_msg_published"] != d.Published {
		t.Fatalf("published %d / %v: want at least the 2 publications", d.Published, d.Metrics)
	}
}

func TestFaceRedisQueue(t *testing.T) {
	// The app starts the consumer from its "centrifugo" config section.
	addr := redistest.Addr(t)
	prefix := testPrefix()
	srv := apptest.Start(t, func(c *app.Config) {
		c.Centrifugo = app.Centrifugo{RedisAPI: true, RedisAddress: addr, RedisPrefix: prefix, RedisNumShards: 1}
	})
	s := subscribe(t, srv, "42", "c42", "", "queued")
	push := producer(t, addr, []string{prefix + ".api", prefix + ".api.0"})
	push(prefix+".api.0", `{"method":"publish","params":{"channel":"queued","data":{"via": "redis"},"client":"worker"}}`)
	ev := s.event(t)
	if ev.GetData() != `{"via": "redis"}` || ev.GetPublisher().GetClient() != "worker" {
		t.Fatalf("got %v, want the queued publication", ev)
	}
	push(prefix+".api", `{"method":"unsubscribe","params":{"channel":"queued","user":"42"}}`)
	if m := s.next(t); m.GetUnsubscribed().GetChannel() != "queued" {
		t.Fatalf("got %v, want unsubscribed by the queued command", m)
	}
}

// TestFacePublishBatch: a batch of publish commands answers each command as
// if they ran one at a time: a failing command gets its own error, the
// commands before and after it are published, in order, and a command
// between publishes sees the ones before it.
func TestFacePublishBatch(t *testing.T) {
	srv := apptest.Start(t, func(c *app.Config) {
		c.Namespaces = []app.Namespace{{Name: "ns", HistorySize: 10, HistoryTTL: app.Duration(time.Minute)}}
	})
	s := subscribe(t, srv, "42", "c42", "", "ns:a", "ns:b")
	long := strings.Repeat("c", 256)
	pub := func(uid, ch, data string) string {
		return `{"uid":"` + uid + `","method":"publish","params":{"channel":"` + ch + `","data":` + data + `}}`
	}
	got := api(t, srv, `[`+strings.Join([]string{
		pub("1", "ns:a", `1`),
		pub("2", "ns:b", `2`),
		pub("3", "nope:x", `3`),
		pub("4", "ns:a", `4`),
		pub("5", long, `5`),
		pub("6", "ns:b", `6`),
		`{"uid":"7","method":"history","params":{"channel":"ns:b"}}`,
		pub("8", "ns:a", `8`),
		pub("9", "ns:a", `{"k":"9"}`),
	}, ",")+`]`)
	got = timestamp.ReplaceAllString(got, `"timestamp":"T"`)
	got = regexp.MustCompile(`"uid":"[A-Za-z0-9_-]{22}"`).ReplaceAllString(got, `"uid":"ID"`)
	want := `[{"uid":"1","method":"publish","error":null,"body":null},` +
		`{"uid":"2","method":"publish","error":null,"body":null},` +
		`{"uid":"3","method":"publish","error":"namespace not found","advice":"fix","body":null},` +
		`{"uid":"4","method":"publish","error":null,"body":null},` +
		`{"uid":"5","method":"publish","error":"invalid message","advice":"fix","body":null},` +
		`{"uid":"6","method":"publish","error":null,"body":null},` +
		`{"uid":"7","method":"history","error":null,"body":{"channel":"ns:b","data":[` +
		`{"uid":"ID","timestamp":"T","channel":"ns:b","data":6},{"uid":"ID","timestamp":"T","channel":"ns:b","data":2}]}},` +
		`{"uid":"8","method":"publish","error":null,"body":null},` +
		`{"uid":"9","method":"publish","error":null,"body":null}]`
	if got != want {
		t.Fatalf("replies\n got %s\nwant %s", got, want)
	}
	for _, w := range []struct{ ch, data string }{{"ns:a", "1"}, {"ns:b", "2"}, {"ns:a", "4"}, {"ns:b", "6"}, {"ns:a", "8"}, {"ns:a", `{"k":"9"}`}} {
		if ev := s.event(t); ev.GetChannel() != w.ch || ev.GetData() != w.data {
			t.Fatalf("got %v, want %s on %s", ev, w.data, w.ch)
		}
	}
}

// TestFacePublishLongBatch: a batch longer than one PublishBatch call
// takes (hub.proto: 10000) is published whole, in order.
func TestFacePublishLongBatch(t *testing.T) {
	srv := apptest.Start(t, nil)
	const n = 12000 // more than the core takes in one PublishBatch
	cmds := make([]string, n)
	for i := range cmds {
		cmds[i] = `{"method":"publish","params":{"channel":"many","data":` + strconv.Itoa(i) + `}}`
	}
	got := api(t, srv, `[`+strings.Join(cmds, ",")+`]`)
	if ok := strings.Count(got, `"error":null`); ok != n {
		t.Fatalf("%d of %d commands succeeded: %.300s", ok, n, got)
	}
	r, err := srv.Hub.Publish(t.Context(), &pb.PublishRequest{Event: &pb.Event{Channel: "many", Data: `"last"`}})
	if err != nil {
		t.Fatal(err)
	}
	if r.GetPosition().GetOffset() != n+1 {
		t.Fatalf("offset after the batch %d, want %d", r.GetPosition().GetOffset(), n+1)
	}
	h, err := srv.Hub.History(t.Context(), &pb.HistoryRequest{Channel: "many", Limit: 3, Reverse: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Events) != 3 || h.Events[1].Data != strconv.Itoa(n-1) || h.Events[2].Data != strconv.Itoa(n-2) {
		t.Fatalf("newest history %v", h.Events)
	}
}
