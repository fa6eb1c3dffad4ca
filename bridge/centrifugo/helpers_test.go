package centrifugo_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// quietLog drops the face's logs: tests assert on the wire, and the face
// logs every rejected request.
var quietLog = slog.New(slog.DiscardHandler)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// apiSign is the v1 sign, computed as the v1 documentation describes it: lowercase hex
// HMAC-SHA256 of the exact body with the secret as key.
func apiSign(secret, body string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	return hex.EncodeToString(mac.Sum(nil))
}

type response struct {
	code        int
	contentType string
	body        []byte
}

// post sends body to url with the given Content-Type and extra headers.
func post(t *testing.T, url, contentType, body string, header map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return do(t, req)
}

// postSigned sends a JSON body with a valid X-API-Sign for secret.
func postSigned(t *testing.T, url, secret, body string) response {
	t.Helper()
	return post(t, url, "application/json", body, map[string]string{"X-API-Sign": apiSign(secret, body)})
}

func do(t *testing.T, req *http.Request) response {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{code: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), body: b}
}

// wantOK checks a 200 JSON answer and returns its body.
func wantOK(t *testing.T, r response) []byte {
	t.Helper()
	if r.code != http.StatusOK || r.contentType != "application/json" {
		t.Fatalf("got %d %q %s, want 200 application/json", r.code, r.contentType, r.body)
	}
	return r.body
}

// wantStatus checks a plain-text http.Error answer as v1 sent it.
func wantStatus(t *testing.T, r response, code int) {
	t.Helper()
	want := http.StatusText(code) + "\n"
	if r.code != code || string(r.body) != want || r.contentType != "text/plain; charset=utf-8" {
		t.Fatalf("got %d %q %q, want %d %q", r.code, r.contentType, r.body, code, want)
	}
}

// golden compares got with testdata/golden/<name>.json byte for byte, or
// rewrites the file with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name+".json")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(append([]byte(nil), got...), '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to create it)", err)
	}
	if !bytes.Equal(append(append([]byte(nil), got...), '\n'), want) {
		t.Fatalf("%s differs from %s\n got: %s\nwant: %s", name, path, got, want)
	}
}
