package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-hub/switchboard/internal/app"
	"github.com/switchboard-hub/switchboard/internal/app/apptest"
	"github.com/switchboard-hub/switchboard/internal/redistest"
	"github.com/switchboard-hub/switchboard/internal/webhooktest"
	"github.com/switchboard-hub/switchboard/services/webhook"
)

// serveProcess runs `switchboard serve --config path` as a real process and
// returns the HTTP address it prints; the process is killed when the test
// ends.
func serveProcess(t *testing.T, path string) (addr string, kill func()) {
	t.Helper()
	cmd := command(t, "serve", "--config", path)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	kill = func() {
		cmd.Process.Kill() // SIGKILL: no shutdown of any kind
		cmd.Wait()
	}
	t.Cleanup(kill)
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := restLine.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case addr = <-found:
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not print where it listens")
	}
	return addr, kill
}

func writeConfig(t *testing.T, cfg map[string]any) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "switchboard.json")
	b, _ := json.MarshalIndent(cfg, "", "  ")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func restPublish(t *testing.T, addr, channel, data string) {
	t.Helper()
	body := fmt.Sprintf(`{"channel":%q,"name":"ev","data":%q}`, channel, data)
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/publish", strings.NewReader(body))
	req.Header.Set("Authorization", "apikey "+apptest.TestSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("publish: %d %s", resp.StatusCode, b)
	}
}

// delivered reads successful deliveries until want of them arrived and
// returns them as "hello" or the hub event's data.
func delivered(t *testing.T, r *webhooktest.Receiver, want int) []string {
	t.Helper()
	var out []string
	for len(out) < want {
		q := r.NextOK(t)
		if q.Event.Type == 4000 {
			out = append(out, "hello")
			continue
		}
		var d struct{ Data json.RawMessage }
		json.Unmarshal(q.Event.Data, &d)
		out = append(out, string(d.Data))
	}
	return out
}

func webhookConfig(r *webhooktest.Receiver, extra map[string]any) map[string]any {
	cfg := map[string]any{
		"http_addr":      "127.0.0.1:0",
		"grpc_addr":      "127.0.0.1:0",
		"api_secret":     apptest.TestSecret,
		"WebhookOptions": map[string]webhook.Endpoint{"org": {URL: r.URL}},
		"webhooks":       map[string]any{"max_attempts": 10000, "base_delay": "10ms", "max_delay": "50ms", "timeout": "1s"},
	}
	for k, v := range extra {
		cfg[k] = v
	}
	return cfg
}

// TestWebhookQueueSurvivesKill9 kills a serving process while its only
// endpoint refuses everything; the next process delivers what was accepted.
func TestWebhookQueueSurvivesKill9(t *testing.T) {
	r := webhooktest.New(t)
	r.SetStatus(http.StatusServiceUnavailable)
	path := writeConfig(t, webhookConfig(r, nil))
	addr, kill := serveProcess(t, path)
	for i := range 5 {
		restPublish(t, addr, "k", fmt.Sprint(i))
	}
	r.Next(t) // the endpoint has refused at least once
	kill()
	r.SetStatus(http.StatusOK)
	serveProcess(t, path)
	got := delivered(t, r, 7)
	if fmt.Sprint(got) != "[hello 0 1 2 3 4 hello]" {
		t.Fatalf("delivered %v", got)
	}
}

// TestWebhookRedisNodeKilledHandsOver: two nodes on one Redis share the
// queue; the node delivering is killed and the other takes over after the
// lease, delivering each accepted event once, in order.
func TestWebhookRedisNodeKilledHandsOver(t *testing.T) {
	redisAddr := redistest.Addr(t)
	prefix := redistest.Prefix(t, redisAddr)
	r := webhooktest.New(t)
	r.SetStatus(http.StatusServiceUnavailable)
	engine := map[string]any{"type": "redis", "address": redisAddr, "prefix": prefix}
	addrA, killA := serveProcess(t, writeConfig(t, webhookConfig(r, map[string]any{"engine": engine})))
	r.Next(t) // node A holds the lease: it is the one retrying
	for i := range 5 {
		restPublish(t, addrA, "k", fmt.Sprint(i))
	}
	// Node B, in this process, with the same endpoint: it queues its own
	// HELLO and waits for the lease.
	b := apptest.Start(t, func(c *app.Config) {
		c.Engine = app.Engine{Type: "redis", Address: redisAddr, Prefix: prefix}
		c.WebhookOptions = map[string]webhook.Endpoint{"org": {URL: r.URL}}
		c.Webhooks = app.Webhooks{MaxAttempts: 10000, BaseDelay: app.Duration(10 * time.Millisecond), MaxDelay: app.Duration(50 * time.Millisecond), Timeout: app.Duration(time.Second)}
	})
	killA()
	r.SetStatus(http.StatusOK)
	got := delivered(t, r, 7)
	if fmt.Sprint(got) != "[hello 0 1 2 3 4 hello]" {
		t.Fatalf("delivered %v", got)
	}
	// Nothing was sent twice: a last event, through B, comes next.
	restPublish(t, b.HTTPAddr, "k", "5")
	if got := delivered(t, r, 1); fmt.Sprint(got) != "[5]" {
		t.Fatalf("after the hand-over: %v", got)
	}
}
