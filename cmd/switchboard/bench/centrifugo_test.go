package bench

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-hub/switchboard/internal/redistest"
)

// Frames as Centrifugo v6 sends them over websocket with the JSON protocol
// (several replies in one frame are joined with newlines).
var centrifugoGolden = []struct {
	name  string
	frame string
	lines []centrifugoLine
	stamp []bool // a stamp is found in the line
}{
	{"connect", `{"id":1,"connect":{"client":"3b4c1f0e","version":"6.9.1","ping":25,"pong":true}}`,
		[]centrifugoLine{{id: 1}}, []bool{false}},
	{"connect and subscribe", "{\"id\":1,\"connect\":{\"client\":\"c\",\"version\":\"6.9.1\",\"ping\":25,\"pong\":true}}\n{\"id\":2,\"subscribe\":{\"recoverable\":true,\"epoch\":\"XyZa\",\"offset\":0}}",
		[]centrifugoLine{{id: 1}, {id: 2}}, []bool{false, false}},
	{"ping", `{}`, []centrifugoLine{{ping: true}}, []bool{false}},
	{"two publications and a ping", "{\"push\":{\"channel\":\"bench_1\",\"pub\":{\"data\":{\"ts\":1700000000000000000,\"seq\":4},\"offset\":5}}}\n{\"push\":{\"channel\":\"bench_1\",\"pub\":{\"data\":{\"ts\":1700000000000000001,\"seq\":5},\"offset\":6}}}\n{}",
		[]centrifugoLine{{}, {}, {ping: true}}, []bool{true, true, false}},
	{"error", `{"id":2,"error":{"code":103,"message":"permission denied"}}`,
		[]centrifugoLine{{id: 2, err: "103 permission denied"}}, []bool{false}},
	{"disconnect push", `{"push":{"disconnect":{"code":3001,"reason":"shutdown"}}}`,
		[]centrifugoLine{{}}, []bool{false}},
}

func TestCentrifugoFrames(t *testing.T) {
	for _, g := range centrifugoGolden {
		var got []centrifugoLine
		var stamps []bool
		err := eachCentrifugoLine([]byte(g.frame), func(line []byte) error {
			got = append(got, parseCentrifugoLine(line))
			_, _, ok := parseStamp(line)
			stamps = append(stamps, ok)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(g.lines) {
			t.Fatalf("%s: %d lines, want %d", g.name, len(got), len(g.lines))
		}
		for i := range got {
			if got[i] != g.lines[i] || stamps[i] != g.stamp[i] {
				t.Errorf("%s: line %d = %+v stamp %v, want %+v stamp %v", g.name, i, got[i], stamps[i], g.lines[i], g.stamp[i])
			}
		}
	}
	if r := parseCentrifugoLine([]byte(`{"id":`)); r.err == "" {
		t.Error("a malformed reply is not an error")
	}
	stop := errors.New("stop")
	n := 0
	if err := eachCentrifugoLine([]byte("{}\n{}\n{}"), func([]byte) error { n++; return stop }); err != stop || n != 1 {
		t.Errorf("eachCentrifugoLine does not stop at the first error: %v after %d", err, n)
	}
}

func FuzzCentrifugoFrame(f *testing.F) {
	for _, g := range centrifugoGolden {
		f.Add([]byte(g.frame))
	}
	f.Add([]byte("\n\n{}\n"))
	f.Fuzz(func(t *testing.T, frame []byte) {
		total := 0
		_ = eachCentrifugoLine(frame, func(line []byte) error {
			if len(line) == 0 || strings.Contains(string(line), "\n") {
				t.Fatalf("bad line %q", line)
			}
			total += len(line)
			r := parseCentrifugoLine(line)
			if r.ping && (r.id != 0 || r.err != "") {
				t.Fatalf("ping with id or error: %+v", r)
			}
			return nil
		})
		if total > len(frame) {
			t.Fatalf("lines longer than the frame")
		}
	})
}

func TestCentrifugoToken(t *testing.T) {
	tok := centrifugoToken("s3cret", "bench")
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q", tok)
	}
	mac := hmac.New(sha256.New, []byte("s3cret"))
	mac.Write([]byte(parts[0] + "." + parts[1]))
	if got := base64.RawURLEncoding.EncodeToString(mac.Sum(nil)); got != parts[2] {
		t.Fatal("bad signature")
	}
	var claims struct {
		Sub string `json:"sub"`
		Exp int64  `json:"exp"`
	}
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if err := json.Unmarshal(b, &claims); err != nil || claims.Sub != "bench" || claims.Exp < time.Now().Unix() {
		t.Fatalf("claims %s: %v", b, err)
	}
}

func TestCentrifugoAPIError(t *testing.T) {
	for _, tt := range []struct {
		status int
		body   string
		ok     bool
	}{
		{200, `{"result":{"offset":3,"epoch":"x"}}`, true},
		{200, `{}`, true},
		{200, `{"error":{"code":102,"message":"unknown channel"}}`, false},
		{401, `Unauthorized`, false},
		{200, `not json`, false},
	} {
		err := centrifugoAPIError(tt.status, []byte(tt.body))
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrPublish)) {
			t.Errorf("%d %s: %v", tt.status, tt.body, err)
		}
	}
}

// centrifugoBinary finds a Centrifugo binary: $CENTRIFUGO, the cache
// `make compare` installs into, or PATH. Tests that need one skip without
// it: they never download it.
func centrifugoBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CENTRIFUGO"); p != "" {
		return p
	}
	if home, err := os.UserHomeDir(); err == nil {
		p := filepath.Join(home, ".cache", "switchboard-compare", "centrifugo")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("centrifugo"); err == nil {
		return p
	}
	t.Skip("no centrifugo binary ($CENTRIFUGO, ~/.cache/switchboard-compare or PATH); make compare installs one")
	return ""
}

// TestRunCentrifugo runs small benches against a spawned Centrifugo, alone
// and as two nodes on a private Redis.
func TestRunCentrifugo(t *testing.T) {
	bin := centrifugoBinary(t)
	var redisAddr string
	for _, redis := range []bool{false, true} {
		for _, scenario := range []string{ScenarioFanout, ScenarioChannels} {
			name := scenario
			if redis {
				name += "/redis"
				if redisAddr == "" {
					redisAddr = redistest.Start(t).Addr
				}
			}
			t.Run(name, func(t *testing.T) {
				o := Defaults()
				o.Face, o.Scenario = FaceCentrifugo, scenario
				o.Clients, o.Messages, o.Publishers = 8, 40, 3
				o.Settle, o.Drain, o.Timeout = 0, 10*time.Second, time.Minute
				o.Server = ServerOptions{Mode: ServerSpawn, Centrifugo: bin}
				if redis {
					o.Server.Redis = redisAddr
				}
				checkRun(t, o)
			})
		}
	}
}

// TestRunRedisTwoNodes: two Switchboard nodes on a private Redis,
// publications to node A, subscribers on node B.
func TestRunRedisTwoNodes(t *testing.T) {
	addr := redistest.Start(t).Addr
	for _, scenario := range []string{ScenarioFanout, ScenarioChannels} {
		t.Run(scenario, func(t *testing.T) {
			o := Defaults()
			o.Scenario = scenario
			o.Clients, o.Messages, o.Publishers = 8, 40, 3
			o.Settle, o.Drain, o.Timeout = 0, 10*time.Second, time.Minute
			o.Server = ServerOptions{Mode: ServerSpawn, Command: spawnSelf(t), Redis: addr}
			r := checkRun(t, o)
			if !strings.Contains(r.Server, "node A") {
				t.Errorf("server %q", r.Server)
			}
		})
	}
}

func checkRun(t *testing.T, o Options) *Report {
	t.Helper()
	r, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	want := int64(o.Messages)
	if o.Scenario == ScenarioFanout {
		want *= int64(o.Clients)
	}
	d := r.Delivery
	if r.Setup.Connected != o.Clients || d.Expected != want || d.Delivered != want || d.Lost+d.Duplicated+d.Reordered+d.Stray != 0 || d.Disconnected != 0 {
		t.Fatalf("setup %+v publish %+v delivery %+v notes %q", r.Setup, r.Publish, d, r.Notes)
	}
	if !r.CPU.Available || !r.Memory.Available {
		t.Fatalf("cpu %+v memory %+v", r.CPU, r.Memory)
	}
	return r
}
