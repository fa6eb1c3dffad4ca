package cppcomet

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// FuzzMessageData: whatever a page sends, Event.data is one JSON value and
// comet pages read back exactly the text (README face mapping, "data").
func FuzzMessageData(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `[1,"x"]`, `{"a": 1}`, ` {"a":1}`, `"q"`, `42`, `plain`, ``, `{"a":"<&>\u00e9"}`, `{`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, message string) {
		if !utf8.ValidString(message) {
			t.Skip("text frames carry UTF-8")
		}
		data := messageData(message)
		if !json.Valid([]byte(data)) {
			t.Fatalf("messageData(%q) = %q is not JSON", message, data)
		}
		if back := dataText(data); back != message {
			t.Fatalf("messageData(%q) = %q reads back as %q", message, data, back)
		}
	})
}
