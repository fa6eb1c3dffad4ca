package app_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-hub/switchboard/cmd/switchboard/app"
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
