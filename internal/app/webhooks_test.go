package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/app"
	"github.com/switchboard-hub/switchboard/internal/app/apptest"
	"github.com/switchboard-hub/switchboard/internal/redistest"
	"github.com/switchboard-hub/switchboard/internal/webhooktest"
	"github.com/switchboard-hub/switchboard/services/webhook"
)

// hubEvent is the Data of a SEVT_HUB_EVENT webhook.
type hubEvent struct {
	Channel, Name, Key string
	Data               json.RawMessage
}

func expectHubEvent(t *testing.T, r *webhooktest.Receiver, channel, data string) webhooktest.Request {
	t.Helper()
	q := r.NextOK(t)
	var d hubEvent
	if err := json.Unmarshal(q.Event.Data, &d); err != nil || q.Event.Type != 4900 || q.Event.TypeString != "SEVT_HUB_EVENT" || d.Channel != channel || string(d.Data) != data {
		t.Fatalf("webhook %+v (data %s), want a hub event on %s with %s", q.Event, q.Event.Data, channel, data)
	}
	return q
}

func expectHello(t *testing.T, r *webhooktest.Receiver) {
	t.Helper()
	if q := r.NextOK(t); q.Event.Type != 4000 || q.Event.TypeString != "SEVT_META_HELLO" {
		t.Fatalf("first webhook %+v, want SEVT_META_HELLO", q.Event)
	}
}

func grpcPublish(t *testing.T, srv *apptest.Server, channel, data string) {
	t.Helper()
	if _, err := srv.Hub.Publish(context.Background(), &pb.PublishRequest{Event: &pb.Event{Channel: channel, Name: "ev", Data: data}}); err != nil {
		t.Fatal(err)
	}
}

func TestWebhookReceivesPublishedEvents(t *testing.T) {
	r := webhooktest.New(t)
	srv := apptest.Start(t, func(c *app.Config) {
		c.Webhooks.Store = filepath.Join(t.TempDir(), "q.db")
		c.WebhookOptions = map[string]webhook.Endpoint{"org": {URL: r.URL, CustomHeaders: map[string]string{"Authorization": "Bearer f1d2"}}}
	})
	expectHello(t, r)
	grpcPublish(t, srv, "news", `{"n":1}`)
	// The Centrifugo v1 face publishes too.
	centrifugoCall(t, srv, `{"method":"publish","params":{"channel":"news","data":{"n":2}}}`)
	q1 := expectHubEvent(t, r, "news", `{"n":1}`)
	q2 := expectHubEvent(t, r, "news", `{"n":2}`)
	if q1.Header.Get("Authorization") != "Bearer f1d2" || q1.Tracing == "" || q1.Tracing == q2.Tracing {
		t.Fatalf("headers %v / tracing %q %q", q1.Header, q1.Tracing, q2.Tracing)
	}
}

func TestWebhookOptionsThroughRESTAreSavedAndSurviveARestart(t *testing.T) {
	r := webhooktest.New(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "switchboard.json")
	conf := "{\n  // test config\n  \"http_addr\": \"127.0.0.1:0\",\n  \"grpc_addr\": \"127.0.0.1:0\",\n  \"api_secret\": \"" + apptest.TestSecret + "\",\n  \"token_secret\": \"" + apptest.TestTokenSecret + "\"\n}\n"
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	load := func() app.Config {
		cfg, err := app.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	srv := apptest.StartConfig(t, load())
	body := fmt.Sprintf(`{"webhook_options":{"org":{"url":%q,"white_listed_event_types":[4900],"level":"full"}}}`, r.URL)
	req, _ := http.NewRequest(http.MethodPut, srv.HTTPURL+"/v1/webhooks/options", strings.NewReader(body))
	req.Header.Set("Authorization", "apikey "+apptest.TestSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("set options: %d %s", resp.StatusCode, b)
	}
	expectHello(t, r)
	grpcPublish(t, srv, "a", `1`)
	expectHubEvent(t, r, "a", `1`)

	saved, _ := os.ReadFile(path)
	if !strings.Contains(string(saved), "// test config") || !strings.Contains(string(saved), r.URL) {
		t.Fatalf("config file after set:\n%s", saved)
	}
	// A user token may not change webhooks.
	req, _ = http.NewRequest(http.MethodGet, srv.HTTPURL+"/v1/webhooks", nil)
	req.Header.Set("Authorization", "bearer "+srv.Token(t, "42"))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("list with a user token: %v", resp.StatusCode)
	}
	srv.Stop(t)

	// The restarted server has the endpoint from its file, sends it a HELLO
	// and delivers to it.
	srv = apptest.StartConfig(t, load())
	expectHello(t, r)
	grpcPublish(t, srv, "b", `2`)
	expectHubEvent(t, r, "b", `2`)
	list, err := pb.NewWebhookServiceClient(srv.Conn).ListWebhooks(context.Background(), &pb.ListWebhooksRequest{})
	if err != nil || len(list.Webhooks) != 1 || list.Webhooks[0].Name != "org" || list.Webhooks[0].Option.Url != r.URL {
		t.Fatalf("list %v %v", list, err)
	}
}

func TestWebhookPendingEventsSurviveAGracefulRestart(t *testing.T) {
	r := webhooktest.New(t)
	r.SetStatus(http.StatusServiceUnavailable)
	store := filepath.Join(t.TempDir(), "q.db")
	tweak := func(c *app.Config) {
		c.Webhooks = app.Webhooks{Store: store, MaxAttempts: 1000, BaseDelay: app.Duration(5e6), MaxDelay: app.Duration(2e7)}
		c.WebhookOptions = map[string]webhook.Endpoint{"org": {URL: r.URL}}
	}
	srv := apptest.Start(t, tweak)
	for i := range 5 {
		grpcPublish(t, srv, "c", fmt.Sprint(i))
	}
	r.Next(t) // refused
	srv.Stop(t)
	r.SetStatus(http.StatusOK)
	apptest.Start(t, tweak)
	expectHello(t, r)
	for i := range 5 {
		expectHubEvent(t, r, "c", fmt.Sprint(i))
	}
	expectHello(t, r) // the restart's own HELLO comes after what was pending
}

// TestWebhookOptionsSetOnOneRedisNodeApplyOnTheOther: options set through
// node A's REST API reach node B live; B delivers its own publishes to the
// new endpoint, the endpoint gets one HELLO, and a node started later with
// an empty config takes the cluster's options.
func TestWebhookOptionsSetOnOneRedisNodeApplyOnTheOther(t *testing.T) {
	a, b := twoNodes(t)
	r := webhooktest.New(t)
	body := fmt.Sprintf(`{"webhook_options":{"org":{"url":%q,"white_listed_event_types":[4900]}}}`, r.URL)
	req, _ := http.NewRequest(http.MethodPut, a.HTTPURL+"/v1/webhooks/options", strings.NewReader(body))
	req.Header.Set("Authorization", "apikey "+apptest.TestSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("set options on A: %d", resp.StatusCode)
	}
	expectHello(t, r)
	bHooks := pb.NewWebhookServiceClient(b.Conn)
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := bHooks.GetWebhookOptions(context.Background(), &pb.GetWebhookOptionsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if got.WebhookOptions["org"].GetUrl() == r.URL {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node B still has %v", got.WebhookOptions)
		}
		time.Sleep(10 * time.Millisecond)
	}
	grpcPublish(t, b, "fromB", `1`)
	expectHubEvent(t, r, "fromB", `1`)
	grpcPublish(t, a, "fromA", `2`)
	expectHubEvent(t, r, "fromA", `2`)

	// A third node whose config names no endpoint takes the cluster's.
	c := apptest.Start(t, func(cfg *app.Config) { cfg.Engine = a.Config.Engine })
	got, err := pb.NewWebhookServiceClient(c.Conn).GetWebhookOptions(context.Background(), &pb.GetWebhookOptionsRequest{})
	if err != nil || got.WebhookOptions["org"].GetUrl() != r.URL {
		t.Fatalf("node C options %v, %v", got, err)
	}
}

// TestWebhookBodyCarriesThePublishedPosition: the body of a published event
// holds what the publish assigned (id, time, offset), on the memory engine
// and on Redis, where the event is queued in the publish's own write and
// encoded at delivery; a "none" level endpoint gets no Data.
func TestWebhookBodyCarriesThePublishedPosition(t *testing.T) {
	for _, name := range []string{"memory", "redis"} {
		t.Run(name, func(t *testing.T) {
			full, none := webhooktest.New(t), webhooktest.New(t)
			srv := apptest.Start(t, func(c *app.Config) {
				if name == "redis" {
					addr := redistest.Addr(t)
					c.Engine = app.Engine{Type: "redis", Address: addr, Prefix: redistest.Prefix(t, addr)}
				}
				c.Webhooks.Store = filepath.Join(t.TempDir(), "q.db")
				c.WebhookOptions = map[string]webhook.Endpoint{
					"full": {URL: full.URL, WhiteListedEventTypes: []int{4900}},
					"none": {URL: none.URL, WhiteListedEventTypes: []int{4900}, Level: webhook.LevelNone},
				}
			})
			expectHello(t, full)
			expectHello(t, none)
			var resps []*pb.PublishResponse
			for i := range 2 {
				resp, err := srv.Hub.Publish(context.Background(), &pb.PublishRequest{Event: &pb.Event{Channel: "news", Key: "k", Data: fmt.Sprint(i)}})
				if err != nil {
					t.Fatal(err)
				}
				resps = append(resps, resp)
			}
			for i, resp := range resps {
				q := full.NextOK(t)
				var d struct {
					ID     string
					Offset uint64
				}
				if err := json.Unmarshal(q.Event.Data, &d); err != nil || d.ID != resp.Id || d.Offset == 0 || d.Offset != resp.Position.Offset || q.Event.Timestamp == 0 || q.Event.ResourceID != "k" {
					t.Fatalf("full %d: %+v (data %s), published %v", i, q.Event, q.Event.Data, resp)
				}
				if q := none.NextOK(t); q.Event.Type != 4900 || len(q.Event.Data) != 0 || q.Event.ResourceID != "k" {
					t.Fatalf("none %d: %+v (data %s)", i, q.Event, q.Event.Data)
				}
			}
		})
	}
}
