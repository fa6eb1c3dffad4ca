package gateway

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/switchboard-hub/switchboard/internal/token"
)

// The guard lets through exactly what the core would authenticate, and
// passes the body on whole when it is within the bound.
func TestGuard(t *testing.T) {
	secret := []byte("token-secret")
	good, err := token.Mint(secret, "42", time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	expired, _ := token.Mint(secret, "42", -time.Hour, time.Now())
	other, _ := token.Mint([]byte("other"), "42", time.Hour, time.Now())
	tests := []struct {
		name     string
		insecure bool
		header   string
		body     string
		want     int
	}{
		{"api key", false, "apikey key", "{}", http.StatusOK},
		{"api key, scheme in capitals", false, "APIKEY key", "{}", http.StatusOK},
		{"wrong api key", false, "apikey nope", "{}", http.StatusUnauthorized},
		{"bearer", false, "bearer " + good, "{}", http.StatusOK},
		{"expired bearer", false, "bearer " + expired, "{}", http.StatusUnauthorized},
		{"bearer of another key", false, "bearer " + other, "{}", http.StatusUnauthorized},
		{"unknown scheme", false, "basic eDp5", "{}", http.StatusUnauthorized},
		{"nothing", false, "", "{}", http.StatusUnauthorized},
		{"nothing, insecure", true, "", "{}", http.StatusOK},
		{"wrong key, insecure", true, "apikey nope", "{}", http.StatusUnauthorized},
		{"body at the bound", false, "apikey key", strings.Repeat("x", 64), http.StatusOK},
		{"body over the bound", false, "apikey key", strings.Repeat("x", 65), http.StatusRequestEntityTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got string
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				got = string(b)
			})
			g := &guard{next: next, mux: runtime.NewServeMux(), opts: Options{
				APIKey: "key", TokenSecret: secret, Insecure: tc.insecure, MaxBodyBytes: 64,
			}}
			req := httptest.NewRequest(http.MethodPost, "/v1/publish", strings.NewReader(tc.body))
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			rec := httptest.NewRecorder()
			g.ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Fatalf("status %d %s, want %d", rec.Code, rec.Body, tc.want)
			}
			if tc.want == http.StatusOK && got != tc.body {
				t.Fatalf("body passed on %q, want %q", got, tc.body)
			}
			if tc.want != http.StatusOK && !strings.Contains(rec.Body.String(), `"message"`) {
				t.Fatalf("error body %s is not the REST shape", rec.Body)
			}
		})
	}
}

func TestAllowedMethods(t *testing.T) {
	allow, err := allowedMethods([]byte(`{"paths":{"/v1/a":{"post":{},"get":{}},"/v1/b":{"post":{}, "parameters":[]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if allow["/v1/a"] != "GET, POST" || allow["/v1/b"] != "POST" {
		t.Fatalf("allow = %v", allow)
	}
}

// A stream cut because the process stops reads as UNAVAILABLE.
func TestStreamErrorAtShutdown(t *testing.T) {
	life, stop := context.WithCancel(context.Background())
	h := streamError(life)
	canceled := status.Error(codes.Canceled, "context canceled")
	if st := h(context.Background(), canceled); st.Code() != codes.Canceled {
		t.Fatalf("while running: %v", st)
	}
	stop()
	for _, err := range []error{canceled, context.Canceled} {
		if st := h(context.Background(), err); st.Code() != codes.Unavailable {
			t.Fatalf("at shutdown, %v: %v", err, st)
		}
	}
}
