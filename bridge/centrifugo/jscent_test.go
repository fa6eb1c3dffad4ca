package centrifugo_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/app/apptest"
)

// jscentDir holds the Node project that drives the face with jscent, the
// v1-era Centrifugo API client. Its node_modules come from `npm ci` there.
const jscentDir = "testdata/jscent"

// runJSCent runs check.js against baseURL and returns its answers by call.
// Without node or the installed package the test is skipped, except in CI
// (CI=true) where it fails.
func runJSCent(t *testing.T, baseURL, secret, channel string) map[string]json.RawMessage {
	t.Helper()
	need := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf(format, args...)
		}
		t.Skipf(format, args...)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		need("node not found: install Node.js to run the jscent interop test")
	}
	if _, err := os.Stat(filepath.Join(jscentDir, "node_modules", "jscent")); err != nil {
		need("jscent is not installed: run `npm ci` in bridge/centrifugo/%s", jscentDir)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--no-deprecation", "check.js", baseURL, secret, channel)
	cmd.Dir = jscentDir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("check.js: %v\n%s", err, stderr.Bytes())
	}
	var out map[string]json.RawMessage
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("check.js output %q: %v", stdout.Bytes(), err)
	}
	return out
}

func TestFaceJSCent(t *testing.T) {
	srv := apptest.Start(t, nil)
	s := subscribe(t, srv, "42", "c42", "", "jscent")
	// Joined, so the channel is active (channels) and in presence.
	if _, err := srv.Sessions.Join(context.Background(), &pb.JoinRequest{SessionId: s.session.GetId(), Channels: []string{"jscent"}}); err != nil {
		t.Fatalf("Join: %v", err)
	}
	out := runJSCent(t, srv.HTTPURL, apptest.TestSecret, "jscent")

	// Every single call answers element [0] of the array, which jscent
	// hands to its callback; the batch gets the whole array.
	want := map[string]string{
		"publish":       `{"method":"publish","error":null,"body":null}`,
		"publishClient": `{"method":"publish","error":null,"body":null}`,
		"history":       `{"method":"history","error":null,"body":{"channel":"jscent","data":[{"uid":"ID","timestamp":"T","channel":"jscent","data":{"n":2},"client":"jscent-client"},{"uid":"ID","timestamp":"T","channel":"jscent","data":{"input":"hello from jscent"}}]}}`,
		"presence":      `{"method":"presence","error":null,"body":{"channel":"jscent","data":{"c42":{"user":"42","client":"c42"}}}}`,
		"channels":      `{"method":"channels","error":null,"body":{"data":["jscent"]}}`,
		"unsubscribe":   `{"method":"unsubscribe","error":null,"body":null}`,
		"disconnect":    `{"method":"disconnect","error":null,"body":null}`,
		"wrongSecret":   `{"error":"Unexpected status code 401","status":401,"body":"Unauthorized\n"}`,
	}
	for name, w := range want {
		got := maskIDs(string(out[name]))
		if got != w {
			t.Errorf("%s:\n got %s\nwant %s", name, got, w)
		}
	}
	var stats struct {
		Method string
		Body   struct {
			Data struct{ Nodes []json.RawMessage }
		}
	}
	if err := json.Unmarshal(out["stats"], &stats); err != nil || stats.Method != "stats" || len(stats.Body.Data.Nodes) != 1 {
		t.Errorf("stats: %s (%v)", out["stats"], err)
	}
	var batch []struct{ Method string }
	if err := json.Unmarshal(out["batch"], &batch); err != nil || len(batch) != 2 || batch[0].Method != "publish" || batch[1].Method != "node" {
		t.Errorf("batch: %s (%v)", out["batch"], err)
	}

	// What jscent published reached the gRPC subscriber byte for byte
	// (JSON.stringify output), before user 42 was unsubscribed.
	for _, data := range []string{`{"input":"hello from jscent"}`, `{"n":2}`} {
		if ev := s.event(t); ev.GetData() != data {
			t.Fatalf("subscriber got %v, want data %s", ev, data)
		}
	}
	if m := s.next(t); m.GetUnsubscribed().GetChannel() != "jscent" {
		t.Fatalf("got %v, want unsubscribed", m)
	}
}

// messageUID matches a history message's uid and timestamp (both differ
// every run; the timestamp is checked to be decimal seconds).
var messageUID = regexp.MustCompile(`"uid":"[^"]*","timestamp":"[0-9]+","channel"`)

func maskIDs(s string) string {
	return messageUID.ReplaceAllString(s, `"uid":"ID","timestamp":"T","channel"`)
}
