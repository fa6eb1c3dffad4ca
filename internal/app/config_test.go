package app_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-hub/switchboard/internal/app"
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "switchboard.json")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadConfig(t *testing.T) {
	p := writeConfig(t, `// a comment
{
  "http_addr": "127.0.0.1:8100", /* inline */
  "api_secret": "s//not a comment",
  "history_ttl": "90s",
  "namespaces": [{"name": "chat", "history_size": 5, "history_ttl": 60}]
}`)
	cfg, err := app.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPAddr != "127.0.0.1:8100" || cfg.APISecret != "s//not a comment" || time.Duration(cfg.HistoryTTL) != 90*time.Second {
		t.Fatalf("config = %+v", cfg)
	}
	if cfg.GRPCAddr != "127.0.0.1:9000" || cfg.HistorySize != 100 {
		t.Fatalf("defaults not kept: %+v", cfg)
	}
	if ns := cfg.Namespaces[0]; ns.Name != "chat" || time.Duration(ns.HistoryTTL) != time.Minute {
		t.Fatalf("namespace = %+v", ns)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"unknown key", `{"http_adr": "x"}`, "unknown field"},
		{"bad duration", `{"history_ttl": "soon"}`, "duration"},
		{"unterminated comment", `{} /* `, "unterminated"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := app.Load(writeConfig(t, tc.text))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	invalid := []struct {
		name string
		edit func(*app.Config)
		want string
	}{
		{"public without secret", func(c *app.Config) { c.HTTPAddr = "0.0.0.0:8000" }, "api_secret"},
		{"public grpc without secret", func(c *app.Config) { c.GRPCAddr = "0.0.0.0:9000" }, `grpc_addr "0.0.0.0:9000"`},
		{"all interfaces grpc without secret", func(c *app.Config) { c.GRPCAddr = ":9000" }, "switchboard genconfig"},
		{"public debug without secret", func(c *app.Config) { c.DebugAddr = "[::]:6060" }, "debug_addr"},
		{"bad namespace", func(c *app.Config) { c.Namespaces = []app.Namespace{{Name: "a"}} }, "namespace"},
		{"reserved namespace", func(c *app.Config) { c.Namespaces = []app.Namespace{{Name: "sys"}} }, "reserved"},
		{"engine", func(c *app.Config) { c.Engine.Type = "etcd" }, "engine.type"},
		{"tls half", func(c *app.Config) { c.TLSCert = "x" }, "tls_cert"},
	}
	for _, tc := range invalid {
		t.Run(tc.name, func(t *testing.T) {
			cfg := app.Default()
			tc.edit(&cfg)
			if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want %q", err, tc.want)
			}
		})
	}
}

// An empty api_secret is allowed only when every listener is on loopback,
// or when api_insecure says so; an edge has no gRPC listener.
func TestEmptySecretLoopbackRule(t *testing.T) {
	ok := []struct {
		name string
		edit func(*app.Config)
	}{
		{"defaults", func(*app.Config) {}},
		{"localhost and ::1", func(c *app.Config) {
			c.HTTPAddr, c.GRPCAddr, c.DebugAddr = "localhost:8000", "[::1]:9000", "127.0.0.2:6060"
		}},
		{"insecure on purpose", func(c *app.Config) { c.GRPCAddr, c.APIInsecure = "0.0.0.0:9000", true }},
		{"secret set", func(c *app.Config) { c.GRPCAddr, c.HTTPAddr, c.APISecret = "0.0.0.0:9000", "0.0.0.0:8000", "s" }},
		{"edge ignores grpc_addr", func(c *app.Config) { c.GRPCAddr, c.Upstream = "0.0.0.0:9000", "127.0.0.1:9000" }},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			cfg := app.Default()
			tc.edit(&cfg)
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func FuzzStripComments(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `// x` + "\n{}", `{"a":"//"} /* b */`, `"\"//"`, `/*`, `{"a":"\\"}//`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := app.StripComments([]byte(in))
		if err != nil {
			return
		}
		if len(out) != len(in) {
			t.Fatalf("length changed: %d → %d", len(in), len(out))
		}
		// Plain JSON without comment markers is unchanged.
		if !strings.Contains(in, "/") && string(out) != in {
			t.Fatalf("changed input without comments: %q → %q", in, out)
		}
		// Valid JSON stays the same valid JSON.
		if json.Valid([]byte(in)) && string(out) != in {
			t.Fatalf("changed valid JSON %q → %q", in, out)
		}
	})
}
