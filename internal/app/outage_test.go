package app_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/app"
	"github.com/switchboard-hub/switchboard/internal/app/apptest"
	"github.com/switchboard-hub/switchboard/internal/redistest"
)

// A Redis that is gone is a retryable outage on every face: UNAVAILABLE
// on gRPC and REST (503), "internal server error" with advice "retry" on
// Centrifugo (v1's only retry answer), 503 on DRP, "Server temporarily
// unavailable" on comet. Never INTERNAL "internal error".
func TestEngineOutageIsUnavailableOnEveryFace(t *testing.T) {
	r := redistest.Start(t)
	srv := apptest.Start(t, func(c *app.Config) {
		c.Engine = app.Engine{Type: "redis", Address: r.Addr}
		c.Admins = []app.Admin{{Username: "admin", Password: "pw"}}
	})
	comet, cometRead := cometSocket(t, srv, "c0")
	r.Kill()

	// gRPC.
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	_, err := srv.Hub.Publish(ctx, &pb.PublishRequest{Event: &pb.Event{Channel: "news", Data: "1"}})
	if st := status.Convert(err); st.Code() != codes.Unavailable {
		t.Fatalf("gRPC publish with Redis gone: %v, want Unavailable", st)
	}
	_, err = srv.Hub.History(ctx, &pb.HistoryRequest{Channel: "news"})
	if st := status.Convert(err); st.Code() != codes.Unavailable {
		t.Fatalf("gRPC history with Redis gone: %v, want Unavailable", st)
	}

	// REST.
	code, body := rest(t, srv, "/v1/publish", `{"channel":"news","data":"1"}`)
	var e map[string]any
	if err := json.Unmarshal([]byte(body), &e); err != nil || code != http.StatusServiceUnavailable || e["code"] != float64(codes.Unavailable) {
		t.Fatalf("REST publish: %d %s, want 503 code 14", code, body)
	}

	// Centrifugo.
	cmd := `{"method":"publish","params":{"channel":"news","data":1}}`
	mac := hmac.New(sha256.New, []byte(apptest.TestSecret))
	mac.Write([]byte(cmd))
	req, _ := http.NewRequest(http.MethodPost, srv.HTTPURL+"/api/", strings.NewReader(cmd))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Sign", hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := `[{"method":"publish","error":"internal server error","advice":"retry","body":null}]`; string(b) != want {
		t.Fatalf("Centrifugo publish: %s, want %s", b, want)
	}

	// DRP.
	req, _ = http.NewRequest(http.MethodPost, srv.HTTPURL+"/api/v3/events", strings.NewReader(`{"Type":"news","Action":"a","Object":1}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", basic("admin", "pw"))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), `"Code":503`) {
		t.Fatalf("DRP POST: %d %s, want 503", resp.StatusCode, b)
	}

	// comet: the sender's error line.
	if err := comet.Write(ctx, websocket.MessageText, []byte("web_pipe2\nweb_news\nmsg\n*\nhello")); err != nil {
		t.Fatal(err)
	}
	m := cometRead()
	var data struct{ Error string }
	_ = json.Unmarshal(m["data"], &data)
	if string(m["event"]) != `"error"` || data.Error != "Server temporarily unavailable" {
		t.Fatalf("comet publish: %v, want the unavailable error", m)
	}
}

// A frozen Redis (SIGSTOP: connected, silent) makes /readyz answer 503 in
// about a second, never hang, and the gRPC health check turns NOT_SERVING
// while every check answers at once.
func TestReadyzAnswersWhileRedisIsFrozen(t *testing.T) {
	r := redistest.Start(t)
	srv := apptest.Start(t, func(c *app.Config) { c.Engine = app.Engine{Type: "redis", Address: r.Addr} })
	health := healthpb.NewHealthClient(srv.Conn)
	check := func() (healthpb.HealthCheckResponse_ServingStatus, time.Duration) {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		start := time.Now()
		resp, err := health.Check(ctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			t.Fatalf("health check: %v", err)
		}
		return resp.GetStatus(), time.Since(start)
	}
	ready := func() (int, time.Duration) {
		start := time.Now()
		c := http.Client{Timeout: wait}
		resp, err := c.Get(srv.HTTPURL + "/readyz")
		if err != nil {
			t.Fatalf("readyz did not answer: %v", err)
		}
		resp.Body.Close()
		return resp.StatusCode, time.Since(start)
	}
	eventually(t, "the node to be ready", wait, func() bool {
		code, _ := ready()
		st, _ := check()
		return code == http.StatusOK && st == healthpb.HealthCheckResponse_SERVING
	})

	r.Freeze()
	for range 3 {
		code, took := ready()
		if code != http.StatusServiceUnavailable {
			t.Fatalf("readyz with Redis frozen: %d, want 503", code)
		}
		if took > 2*time.Second {
			t.Fatalf("readyz took %v with Redis frozen, want about a second", took)
		}
	}
	eventually(t, "gRPC health to report NOT_SERVING", 5*time.Second, func() bool {
		st, took := check()
		if took > time.Second {
			t.Fatalf("health check took %v", took)
		}
		return st == healthpb.HealthCheckResponse_NOT_SERVING
	})
}
