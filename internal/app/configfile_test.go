package app

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSetTopLevelKey(t *testing.T) {
	cases := []struct{ name, src, want string }{
		{"replace keeps comments",
			"{\n  // the hub\n  \"http_addr\": \"127.0.0.1:1\", /* x */\n  \"WebhookOptions\": {\"a\": {\"URL\": \"http://x\"}}, // hooks\n  \"log_level\": \"info\"\n}\n",
			"{\n  // the hub\n  \"http_addr\": \"127.0.0.1:1\", /* x */\n  \"WebhookOptions\": {}, // hooks\n  \"log_level\": \"info\"\n}\n"},
		{"add after the last key",
			"{\n  \"http_addr\": \"x\" // trailing comment\n}\n",
			"{\n  \"http_addr\": \"x\",\n  \"WebhookOptions\": {} // trailing comment\n}\n"},
		{"add to an empty object", "{}", "{\n  \"WebhookOptions\": {}\n}"},
		{"a nested key of the same name is not top-level",
			"{\"x\": {\"WebhookOptions\": 1}, \"WebhookOptions\": null}",
			"{\"x\": {\"WebhookOptions\": 1}, \"WebhookOptions\": {}}"},
		{"a comment that looks like the key", "{/* \"WebhookOptions\": 1 */\"a\": 1}", "{/* \"WebhookOptions\": 1 */\"a\": 1,\n  \"WebhookOptions\": {}}"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := SetTopLevelKey([]byte(c.src), "WebhookOptions", []byte("{}"))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Fatalf("got\n%s\nwant\n%s", got, c.want)
			}
		})
	}
	if _, err := SetTopLevelKey([]byte("[1]"), "k", []byte("1")); err == nil {
		t.Fatal("an array was accepted as a config")
	}
}

func TestSaveConfigKeyIsAtomicAndKeepsMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "switchboard.json")
	if err := os.WriteFile(path, []byte("{\n  // keep me\n  \"log_level\": \"debug\"\n}\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := saveConfigKey(path, "WebhookOptions", map[string]any{"a": map[string]string{"URL": "http://127.0.0.1:1/"}}); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.LogLevel != "debug" || cfg.WebhookOptions["a"].URL != "http://127.0.0.1:1/" {
		t.Fatalf("reloaded %+v", cfg)
	}
	st, _ := os.Stat(path)
	entries, _ := os.ReadDir(filepath.Dir(path))
	if st.Mode().Perm() != 0o640 || len(entries) != 1 {
		t.Fatalf("mode %v, folder %v", st.Mode(), entries)
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), "// keep me") {
		t.Fatalf("comment lost:\n%s", b)
	}
}

func FuzzSetTopLevelKey(f *testing.F) {
	f.Add([]byte("{\n  // c\n  \"a\": 1, /* d */ \"WebhookOptions\": {\"x\": 2}\n}"))
	f.Add([]byte("{}"))
	f.Add([]byte(`{"a": "}", "b": [1, {"WebhookOptions": 3}]}`))
	f.Fuzz(func(t *testing.T, src []byte) {
		plain, err := StripComments(src)
		if err != nil {
			return
		}
		var before map[string]json.RawMessage
		if json.Unmarshal(plain, &before) != nil || before == nil {
			return
		}
		out, err := SetTopLevelKey(src, "WebhookOptions", []byte(`{"k":[1,2]}`))
		if err != nil {
			t.Fatalf("valid config refused: %v", err)
		}
		plainOut, err := StripComments(out)
		if err != nil {
			t.Fatalf("output comments broken: %v\n%s", err, out)
		}
		var after map[string]json.RawMessage
		if err := json.Unmarshal(plainOut, &after); err != nil {
			t.Fatalf("output is not JSON: %v\n%s", err, out)
		}
		if string(after["WebhookOptions"]) != `{"k":[1,2]}` {
			t.Fatalf("key = %s\n%s", after["WebhookOptions"], out)
		}
		for k, v := range before {
			if k != "WebhookOptions" && string(after[k]) != string(v) {
				t.Fatalf("key %q changed: %s -> %s", k, v, after[k])
			}
		}
	})
}
