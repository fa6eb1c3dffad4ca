package centrifugo_test

// Tests of the HTTP face over real sockets against a fake HubService on a
// real gRPC connection: the wire format, the sign rules and the status-code
// table, independent of the core's behaviour (face_test.go covers the face
// against the real server).

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/switchboard-hub/switchboard/bridge"
	"github.com/switchboard-hub/switchboard/bridge/centrifugo"
	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

const testSecret = "secret"

// startAPI mounts the face on a ServeMux at /api/ (as the app does) in a
// real HTTP server and returns the base URL.
func startAPI(t *testing.T, hub *fakeHub, opts centrifugo.Options) string {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quietLog
	}
	h := centrifugo.New(bridge.Deps{Hub: startFakeHub(t, hub)}, opts)
	mux := http.NewServeMux()
	mux.Handle(centrifugo.Path, h)
	mux.Handle(centrifugo.PathNoSlash, h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

func signedOpts() centrifugo.Options { return centrifugo.Options{APISecret: testSecret} }

func TestSign(t *testing.T) {
	body := `{"method":"channels","params":{}}`
	okReply := `[{"method":"channels","error":null,"body":{"data":[]}}]`
	good := apiSign(testSecret, body)
	tests := []struct {
		name   string
		opts   centrifugo.Options
		header map[string]string
		body   string
		code   int
	}{
		{"valid", signedOpts(), map[string]string{"X-API-Sign": good}, body, 200},
		{"missing", signedOpts(), nil, body, 400},
		{"empty header", signedOpts(), map[string]string{"X-API-Sign": ""}, body, 400},
		{"wrong", signedOpts(), map[string]string{"X-API-Sign": apiSign("other", body)}, body, 401},
		{"uppercase", signedOpts(), map[string]string{"X-API-Sign": strings.ToUpper(good)}, body, 401},
		{"short", signedOpts(), map[string]string{"X-API-Sign": good[:63]}, body, 401},
		{"long", signedOpts(), map[string]string{"X-API-Sign": good + "0"}, body, 401},
		{"signed other bytes", signedOpts(), map[string]string{"X-API-Sign": apiSign(testSecret, body+" ")}, body, 401},
		{"empty body", signedOpts(), map[string]string{"X-API-Sign": apiSign(testSecret, "")}, "", 400},
		{"no secret configured", centrifugo.Options{}, map[string]string{"X-API-Sign": good}, body, 400},
		{"insecure without sign", centrifugo.Options{APIInsecure: true}, nil, body, 200},
		{"insecure ignores a wrong sign", centrifugo.Options{APIInsecure: true, APISecret: testSecret}, map[string]string{"X-API-Sign": "x"}, body, 200},
		{"insecure empty body", centrifugo.Options{APIInsecure: true}, nil, "", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hub := &fakeHub{}
			base := startAPI(t, hub, tt.opts)
			r := post(t, base+"/api/", "application/json", tt.body, tt.header)
			if tt.code != 200 {
				wantStatus(t, r, tt.code)
				if n := len(hub.requests()); n != 0 {
					t.Fatalf("rejected request reached the hub %d times", n)
				}
				return
			}
			if got := string(wantOK(t, r)); got != okReply {
				t.Fatalf("got %s, want %s", got, okReply)
			}
		})
	}
}

func TestContentTypes(t *testing.T) {
	body := `{"method":"channels","params":{}}`
	okReply := `[{"method":"channels","error":null,"body":{"data":[]}}]`
	sign := apiSign(testSecret, body)
	base := startAPI(t, &fakeHub{}, signedOpts())

	form := func(v url.Values) string { return v.Encode() }
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	_ = mw.WriteField("data", body)
	_ = mw.WriteField("sign", sign)
	_ = mw.Close()

	tests := []struct {
		name        string
		path        string
		contentType string
		body        string
		header      map[string]string
		code        int
	}{
		{"json with charset", "/api/", "application/json; charset=utf-8", body, map[string]string{"X-API-Sign": sign}, 200},
		{"json any case", "/api/", "Application/JSON", body, map[string]string{"X-API-Sign": sign}, 200},
		{"form", "/api/", "application/x-www-form-urlencoded", form(url.Values{"data": {body}, "sign": {sign}}), nil, 200},
		{"form wrong sign", "/api/", "application/x-www-form-urlencoded", form(url.Values{"data": {body}, "sign": {apiSign("x", body)}}), nil, 401},
		{"form without sign", "/api/", "application/x-www-form-urlencoded", form(url.Values{"data": {body}}), nil, 400},
		{"form without data", "/api/", "application/x-www-form-urlencoded", form(url.Values{"sign": {sign}}), nil, 400},
		{"form ignores the header sign", "/api/", "application/x-www-form-urlencoded", form(url.Values{"data": {body}}), map[string]string{"X-API-Sign": sign}, 400},
		{"no content type: body not parsed as a form", "/api/", "", form(url.Values{"data": {body}, "sign": {sign}}), nil, 400},
		{"multipart form", "/api/", mw.FormDataContentType(), mp.String(), nil, 200},
		{"query string fields", "/api/?" + form(url.Values{"data": {body}, "sign": {sign}}), "text/plain", "", nil, 200},
		{"json body sent as text is a form", "/api/", "text/plain", body, map[string]string{"X-API-Sign": sign}, 400},
		{"sub-path is the API too", "/api/anything", "application/json", body, map[string]string{"X-API-Sign": sign}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := post(t, base+tt.path, tt.contentType, tt.body, tt.header)
			if tt.code != 200 {
				wantStatus(t, r, tt.code)
				return
			}
			if got := string(wantOK(t, r)); got != okReply {
				t.Fatalf("got %s, want %s", got, okReply)
			}
		})
	}
}

func TestRedirect(t *testing.T) {
	// Mounted on a ServeMux at /api/ and /api (as the app does) or on its
	// own, /api answers 301 to /api/ as v1 did.
	muxBase := startAPI(t, &fakeHub{}, signedOpts())
	own := httptest.NewServer(centrifugo.New(bridge.Deps{Hub: startFakeHub(t, &fakeHub{}), Logger: quietLog}, signedOpts()))
	t.Cleanup(own.Close)
	for _, base := range []string{muxBase, own.URL} {
		req, _ := http.NewRequest(http.MethodPost, base+"/api?x=1", nil)
		r := do(t, req)
		if r.code != http.StatusMovedPermanently {
			t.Fatalf("%s: got %d, want 301", base, r.code)
		}
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Post(base+"/api", "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); loc != "/api/" {
			t.Fatalf("%s: Location %q, want /api/", base, loc)
		}
	}
}

func TestStructuralErrors(t *testing.T) {
	// Every one of these fails the whole request with 400 before any command
	// runs: the publish in front of a bad command must not reach the hub.
	bodies := map[string]string{
		"leading space":        ` {"method":"channels"}`,
		"not json":             `method=publish`,
		"bad json":             `{"method":"channels"`,
		"unknown method":       `{"method":"subscribe","params":{"channel":"x"}}`,
		"bad params":           `{"method":"presence","params":{"channel":1}}`,
		"publish no params":    `{"method":"publish"}`,
		"publish no channel":   `{"method":"publish","params":{"data":{}}}`,
		"publish no data":      `{"method":"publish","params":{"channel":"news"}}`,
		"publish empty chan":   `{"method":"publish","params":{"channel":"","data":{}}}`,
		"bad command in batch": `[{"method":"publish","params":{"channel":"news","data":1}},{"method":"nope"}]`,
		"scalar in batch":      `[{"method":"publish","params":{"channel":"news","data":1}},"x"]`,
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			hub := &fakeHub{}
			base := startAPI(t, hub, signedOpts())
			wantStatus(t, postSigned(t, base+"/api/", testSecret, body), http.StatusBadRequest)
			if n := len(hub.requests()); n != 0 {
				t.Fatalf("hub got %d calls for a rejected batch", n)
			}
		})
	}
}

func TestBodyLimit(t *testing.T) {
	base := startAPI(t, &fakeHub{}, centrifugo.Options{APIInsecure: true, MaxBodyBytes: 64})
	big := `{"method":"publish","params":{"channel":"news","data":"` + strings.Repeat("x", 100) + `"}}`
	wantStatus(t, post(t, base+"/api/", "application/json", big, nil), http.StatusRequestEntityTooLarge)
	wantStatus(t, post(t, base+"/api/", "application/x-www-form-urlencoded", url.Values{"data": {big}}.Encode(), nil), http.StatusRequestEntityTooLarge)
	wantOK(t, post(t, base+"/api/", "application/json", `{"method":"channels"}`, nil))
}

// fixtureHub answers every read with fixed, representative data.
func fixtureHub() *fakeHub {
	started := &timestamppb.Timestamp{Seconds: 1455450238}
	node := &pb.NodeInfo{Id: "c3ceab87", Name: "host_8000", Version: "1.2.3", StartedAt: started,
		NumSessions: 3, NumUsers: 2, NumChannels: 4, NumSubscriptions: 5, NumPublished: 6,
		NumDelivered: 7, NumSlowConsumers: 1, NumGoroutines: 14, MemorySysBytes: 7444728, UptimeSeconds: 99,
		Gomaxprocs: 4, NumCpu: 8, CpuUsagePercent: 37, NumApiRequests: 3, NumClientRequests: 11,
		BytesClientIn: 1024, BytesClientOut: 65536}
	return &fakeHub{
		presence: func(*pb.PresenceRequest) (*pb.PresenceResponse, error) {
			return &pb.PresenceResponse{Sessions: []*pb.Session{
				{Id: "s-2", User: "2694", Client: "e5ee0ab0", Info: `{"default_info":{"first_name":"Alexandr"},"channel_info":{"x": 1}}`},
				{Id: "s-1", User: "2694", Client: "a1c2f99d", Info: `{"first_name":"Alexandr"}`},
				{Id: "s-3", User: ""},
			}}, nil
		},
		history: func(*pb.HistoryRequest) (*pb.HistoryResponse, error) {
			return &pb.HistoryResponse{Events: []*pb.Event{
				{Id: "m3", Channel: "$public:chat", Data: `{"input": "world"}`, Time: &timestamppb.Timestamp{Seconds: 1445536974},
					Publisher: &pb.Publisher{User: "2694", Client: "a1c2f99d", Info: `{"user":"2694","client":"a1c2f99d","default_info":{"first_name":"Alexandr"}}`}},
				{Id: "m2", Channel: "$public:chat", Kind: pb.EventKind_EVENT_KIND_JOIN, Data: `{}`},
				{Id: "m1", Channel: "$public:chat", Data: `"hello <b>"`, Publisher: &pb.Publisher{User: "7"}, Time: &timestamppb.Timestamp{Seconds: 1445536969}},
				{Id: "m0", Channel: "$public:chat", Data: `[1,2]`, Publisher: &pb.Publisher{Client: "api-client"}},
			}}, nil
		},
		channels: func(*pb.ChannelsRequest) (*pb.ChannelsResponse, error) {
			return &pb.ChannelsResponse{Channels: []*pb.ChannelSummary{{Channel: "$public:chat", NumSessions: 1}, {Channel: "news"}, {Channel: "notifications"}}}, nil
		},
		stats: func(*pb.StatsRequest) (*pb.StatsResponse, error) {
			return &pb.StatsResponse{Nodes: []*pb.NodeInfo{node, {Id: "other", Name: "host_8001"}}}, nil
		},
		node: func(*pb.NodeRequest) (*pb.NodeResponse, error) { return &pb.NodeResponse{Node: node}, nil },
	}
}

func TestMethodReplies(t *testing.T) {
	tests := []struct {
		name string
		body string
		want proto.Message // the request the hub must see; nil for none
	}{
		{"publish", `{"method":"publish","params":{"channel":"news","data":{"input": "hello"}}}`,
			&pb.PublishRequest{Event: &pb.Event{Channel: "news", Data: `{"input": "hello"}`}}},
		{"publish_client_uid", `{"method":"publish","params":{"channel":"news","data":null,"client":"long-unique-client-id","uid":"msg-1"},"uid":"req-1"}`,
			&pb.PublishRequest{Event: &pb.Event{Id: "msg-1", Channel: "news", Data: `null`, Publisher: &pb.Publisher{Client: "long-unique-client-id"}}}},
		{"broadcast", `{"method":"broadcast","params":{"channels":["CHANNEL_1","CHANNEL_2"],"data":{"input":"hello"},"client":"c"}}`,
			&pb.BroadcastRequest{Channels: []string{"CHANNEL_1", "CHANNEL_2"}, Event: &pb.Event{Data: `{"input":"hello"}`, Publisher: &pb.Publisher{Client: "c"}}}},
		{"unsubscribe", `{"method":"unsubscribe","params":{"channel":"news","user":"42"}}`,
			&pb.UnsubscribeRequest{Channel: "news", User: "42"}},
		{"unsubscribe_all", `{"method":"unsubscribe","params":{"user":"42"}}`,
			&pb.UnsubscribeRequest{User: "42"}},
		{"disconnect", `{"method":"disconnect","params":{"user":"42"}}`,
			&pb.DisconnectRequest{User: "42"}},
		{"presence", `{"method":"presence","params":{"channel":"$public:chat"}}`,
			&pb.PresenceRequest{Channel: "$public:chat"}},
		{"history", `{"method":"history","params":{"channel":"$public:chat"}}`,
			&pb.HistoryRequest{Channel: "$public:chat", Reverse: true}},
		{"channels", `{"method":"channels","params":{}}`, &pb.ChannelsRequest{}},
		{"stats", `{"method":"stats","params":{}}`, &pb.StatsRequest{}},
		{"node", `{"method":"node","params":{}}`, &pb.NodeRequest{}},
		{"batch", `[{"method":"node","uid":"1"},{"method":"disconnect","params":{"user":"9"},"uid":"2"},{"method":"channels"}]`, nil},
		{"empty_batch", `[]`, nil},
		{"escaping", `{"method":"publish","params":{"channel":"a<b>&c","data":"\u003c"},"uid":"<&>"}`,
			&pb.PublishRequest{Event: &pb.Event{Channel: "a<b>&c", Data: `"\u003c"`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hub := fixtureHub()
			base := startAPI(t, hub, signedOpts())
			got := wantOK(t, postSigned(t, base+"/api/", testSecret, tt.body))
			golden(t, tt.name, got)
			if tt.want == nil {
				return
			}
			reqs := hub.requests()
			if len(reqs) != 1 || !proto.Equal(reqs[0], tt.want) {
				t.Fatalf("hub got %v, want [%v]", reqs, tt.want)
			}
		})
	}
}

func TestErrorTable(t *testing.T) {
	// The one table of errors.go, for every kind of body: write methods
	// (body null), channel reads (body {"channel":C,"data":null}) and
	// node reads (body {"data":null}).
	leak := "redis 10.0.0.7:6379: connection refused"
	codesWant := []struct {
		code   codes.Code
		errTxt string
		advice string
	}{
		{codes.InvalidArgument, "invalid message", "fix"},
		{codes.NotFound, "namespace not found", "fix"},
		{codes.FailedPrecondition, "not available", ""},
		{codes.Unimplemented, "not available", ""},
		{codes.Internal, "internal server error", "retry"},
		{codes.Unavailable, "internal server error", "retry"},
		{codes.PermissionDenied, "internal server error", "retry"},
		{codes.DeadlineExceeded, "internal server error", "retry"},
		{codes.Unknown, "internal server error", "retry"},
	}
	calls := []struct {
		body     string
		method   string
		failBody string
	}{
		{`{"method":"publish","params":{"channel":"x:y","data":1}}`, "publish", `null`},
		{`{"method":"broadcast","params":{"channels":["x:y"],"data":1}}`, "broadcast", `null`},
		{`{"method":"unsubscribe","params":{"channel":"x:y","user":"1"}}`, "unsubscribe", `null`},
		{`{"method":"disconnect","params":{"user":"1"}}`, "disconnect", `null`},
		{`{"method":"presence","params":{"channel":"x:y"}}`, "presence", `{"channel":"x:y","data":null}`},
		{`{"method":"history","params":{"channel":"x:y"}}`, "history", `{"channel":"x:y","data":null}`},
		{`{"method":"channels"}`, "channels", `{"data":null}`},
		{`{"method":"stats"}`, "stats", `{"data":null}`},
		{`{"method":"node"}`, "node", `{"data":null}`},
	}
	for _, cw := range codesWant {
		err := status.Error(cw.code, leak)
		hub := &fakeHub{
			publish:     func(*pb.PublishRequest) (*pb.PublishResponse, error) { return nil, err },
			broadcast:   func(*pb.BroadcastRequest) (*pb.BroadcastResponse, error) { return nil, err },
			unsubscribe: func(*pb.UnsubscribeRequest) (*pb.UnsubscribeResponse, error) { return nil, err },
			disconnect:  func(*pb.DisconnectRequest) (*pb.DisconnectResponse, error) { return nil, err },
			presence:    func(*pb.PresenceRequest) (*pb.PresenceResponse, error) { return nil, err },
			history:     func(*pb.HistoryRequest) (*pb.HistoryResponse, error) { return nil, err },
			channels:    func(*pb.ChannelsRequest) (*pb.ChannelsResponse, error) { return nil, err },
			stats:       func(*pb.StatsRequest) (*pb.StatsResponse, error) { return nil, err },
			node:        func(*pb.NodeRequest) (*pb.NodeResponse, error) { return nil, err },
		}
		base := startAPI(t, hub, signedOpts())
		for _, c := range calls {
			t.Run(cw.code.String()+"/"+c.method, func(t *testing.T) {
				advice := ""
				if cw.advice != "" {
					advice = fmt.Sprintf(`,"advice":%q`, cw.advice)
				}
				want := fmt.Sprintf(`[{"method":%q,"error":%q%s,"body":%s}]`, c.method, cw.errTxt, advice, c.failBody)
				got := string(wantOK(t, postSigned(t, base+"/api/", testSecret, c.body)))
				if got != want {
					t.Fatalf("got  %s\nwant %s", got, want)
				}
			})
		}
	}
}

func TestLocalValidation(t *testing.T) {
	// What v1 answers per command without asking the engine; the hub is
	// never called.
	tests := []struct{ body, want string }{
		{`{"method":"broadcast","params":{"channels":[],"data":1}}`, `[{"method":"broadcast","error":"invalid message","advice":"fix","body":null}]`},
		{`{"method":"broadcast","params":{"channels":["a"]}}`, `[{"method":"broadcast","error":"invalid message","advice":"fix","body":null}]`},
		{`{"method":"broadcast","params":{"channels":["a",""],"data":1}}`, `[{"method":"broadcast","error":"invalid message","advice":"fix","body":null}]`},
		{`{"method":"unsubscribe","params":{"channel":"a"}}`, `[{"method":"unsubscribe","error":"invalid message","advice":"fix","body":null}]`},
		{`{"method":"disconnect","params":{}}`, `[{"method":"disconnect","error":"invalid message","advice":"fix","body":null}]`},
		{`{"method":"presence","params":{}}`, `[{"method":"presence","error":"invalid message","advice":"fix","body":{"channel":"","data":null}}]`},
		{`{"method":"history","params":null,"uid":"u"}`, `[{"uid":"u","method":"history","error":"invalid message","advice":"fix","body":{"channel":"","data":null}}]`},
	}
	for _, tt := range tests {
		hub := &fakeHub{}
		base := startAPI(t, hub, signedOpts())
		got := string(wantOK(t, postSigned(t, base+"/api/", testSecret, tt.body)))
		if got != tt.want {
			t.Fatalf("%s:\n got %s\nwant %s", tt.body, got, tt.want)
		}
		if n := len(hub.requests()); n != 0 {
			t.Fatalf("%s: hub called %d times", tt.body, n)
		}
	}
}

func TestBatchGoesOnAfterCommandError(t *testing.T) {
	// A per-command error does not stop the batch: later commands run and
	// every command gets its reply, in order.
	hub := &fakeHub{publish: func(r *pb.PublishRequest) (*pb.PublishResponse, error) {
		if r.GetEvent().GetChannel() == "bad:x" {
			return nil, status.Error(codes.NotFound, "namespace not found")
		}
		return &pb.PublishResponse{}, nil
	}}
	base := startAPI(t, hub, signedOpts())
	body := `[{"method":"publish","params":{"channel":"bad:x","data":1},"uid":"a"},{"method":"publish","params":{"channel":"ok","data":2},"uid":"b"}]`
	got := string(wantOK(t, postSigned(t, base+"/api/", testSecret, body)))
	want := `[{"uid":"a","method":"publish","error":"namespace not found","advice":"fix","body":null},{"uid":"b","method":"publish","error":null,"body":null}]`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if n := len(hub.requests()); n != 2 {
		t.Fatalf("hub got %d publishes, want 2", n)
	}
}

func TestExecutorDirect(t *testing.T) {
	// Commands built by hand (not by the decoder) still get v1 errors.
	hub := &fakeHub{}
	ex := centrifugo.NewExecutor(startFakeHub(t, hub), quietLog)
	tests := []struct {
		cmd  centrifugo.Command
		want centrifugo.Reply
	}{
		{centrifugo.Command{Method: "nope", UID: "u"}, centrifugo.Reply{UID: "u", Method: "nope", Error: "method not found", Advice: "fix"}},
		{centrifugo.Command{Method: "publish"}, centrifugo.Reply{Method: "publish", Error: "invalid message", Advice: "fix"}},
		{centrifugo.Command{Method: "presence", Params: &centrifugo.DisconnectParams{User: "1"}}, centrifugo.Reply{Method: "presence", Error: "invalid message", Advice: "fix"}},
		{centrifugo.Command{Method: "disconnect", Params: &centrifugo.DisconnectParams{User: "1"}}, centrifugo.Reply{Method: "disconnect"}},
	}
	for _, tt := range tests {
		got := ex.Execute(context.Background(), tt.cmd)
		if got.UID != tt.want.UID || got.Method != tt.want.Method || got.Error != tt.want.Error || got.Advice != tt.want.Advice || got.Body != nil {
			t.Fatalf("Execute(%+v) = %+v, want %+v", tt.cmd, got, tt.want)
		}
	}
	if reqs := hub.requests(); len(reqs) != 1 || !proto.Equal(reqs[0], &pb.DisconnectRequest{User: "1"}) {
		t.Fatalf("hub got %v, want only the disconnect", reqs)
	}
	if got := string(centrifugo.AppendReplies(nil, []centrifugo.Reply{{Method: "m", Error: "e", Advice: "retry", Body: []byte(`{"a":1}`)}})); got != `[{"method":"m","error":"e","advice":"retry","body":{"a":1}}]` {
		t.Fatalf("AppendReplies = %s", got)
	}
}
