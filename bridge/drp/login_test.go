package drp_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-hub/switchboard/internal/app/apptest"
	"github.com/switchboard-hub/switchboard/internal/token"
)

// apiGet is one request of the DRP Go client's R.Do: its headers, an
// Authorization of its own choosing, and the reply status, content type
// and body.
func apiGet(t *testing.T, srv *apptest.Server, path, auth string) (int, string, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxT(t), http.MethodGet, srv.HTTPURL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Cache-Control", "no-store")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), b
}

// userToken is DRP's models.UserToken as the client decodes it.
type userToken struct {
	Token string
	Info  json.RawMessage
}

// getToken performs the token call and checks the answer is what the
// client can decode: 200, application/json, a token for user with the
// given lifetime.
func getToken(t *testing.T, srv *apptest.Server, path, auth, user string, ttl time.Duration) userToken {
	t.Helper()
	code, ct, body := apiGet(t, srv, path, auth)
	if code != http.StatusOK || !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("GET %s = %d %q %s", path, code, ct, body)
	}
	var ut userToken
	if err := json.Unmarshal(body, &ut); err != nil {
		t.Fatalf("GET %s: %s: %v", path, body, err)
	}
	claims, err := token.Verify(ut.Token, []byte(apptest.TestTokenSecret))
	if err != nil || claims.User() != user {
		t.Fatalf("token %q: user %q, %v; want %q", ut.Token, claims.User(), err, user)
	}
	if left := time.Until(claims.ExpiresAt); left > ttl || left < ttl-time.Minute {
		t.Fatalf("token expires in %v, want %v", left, ttl)
	}
	return ut
}

var (
	infoPort    = regexp.MustCompile(`"api_port":\d+`)
	infoAddress = regexp.MustCompile(`"address":"[^"]*"`)
	infoNode    = regexp.MustCompile(`"127\.0\.0\.1:0"`)
)

// normInfo checks the machine-dependent fields of an Info and replaces them
// with placeholders.
func normInfo(t *testing.T, srv *apptest.Server, raw []byte) []byte {
	t.Helper()
	_, port, _ := net.SplitHostPort(srv.HTTPAddr)
	s := string(raw)
	if !strings.Contains(s, `"api_port":`+port+`,`) || !strings.Contains(s, `"address":"127.0.0.1"`) ||
		!strings.Contains(s, `"arch":"`+runtime.GOARCH+`","os":"`+runtime.GOOS+`"`) {
		t.Fatalf("info %s: want api_port %s, address 127.0.0.1, %s/%s", s, port, runtime.GOARCH, runtime.GOOS)
	}
	s = strings.Replace(s, `"arch":"`+runtime.GOARCH+`","os":"`+runtime.GOOS+`"`, `"arch":"<arch>","os":"<os>"`, 1)
	s = infoPort.ReplaceAllString(s, `"api_port":"<port>"`)
	s = infoAddress.ReplaceAllString(s, `"address":"<address>"`)
	return []byte(infoNode.ReplaceAllString(s, `"<node>"`))
}

// TestClientSession performs exactly what api.UserSession and drpcli do
// (drp.md §9): a token with Basic, Info with that token, the websocket with
// it, a register, an event post with it, and the token's renewal.
func TestClientSession(t *testing.T) {
	srv := start(t, nil)

	// 1. UserSession: GET /api/v3/users/<user>/token with Basic.
	first := getToken(t, srv, "/api/v3/users/"+adminUser+"/token", basic(adminUser, adminPass), adminUser, 600*time.Second)
	golden(t, "info.golden", normInfo(t, srv, first.Info))
	bearer := "Bearer " + first.Token

	// 2. Session.Info(): GET /api/v3/info with the token.
	code, ct, body := apiGet(t, srv, "/api/v3/info", bearer)
	if code != http.StatusOK || !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("info = %d %q %s", code, ct, body)
	}
	golden(t, "info.golden", normInfo(t, srv, body))

	// 3. Session.Events(): the websocket with the token; 4. a register.
	c := connect(t, srv, bearer)
	c.do("register", "profiles.*.*")

	// 5. drpcli events post: POST /api/v3/events with the admin's token.
	// The client refuses a success without a JSON content type, even a 204.
	if code, h, body := postEvent(t, srv, nil, bearer, "application/json", postedBody); code != http.StatusNoContent ||
		!strings.HasPrefix(h.Get("Content-Type"), "application/json") {
		t.Fatalf("POST with the admin's token = %d %q %q; want 204 with a JSON content type", code, h.Get("Content-Type"), body)
	}
	_, frame := c.readEvent()
	golden(t, "event_posted.golden", frame)

	// 6. TokenRefresh: the same call with ?ttl=600 and the current token;
	// drpcli's token cache asks for ttl=7200.
	renewed := getToken(t, srv, "/api/v3/users/"+adminUser+"/token?ttl=600", bearer, adminUser, 600*time.Second)
	getToken(t, srv, "/api/v3/users/"+adminUser+"/token?ttl=7200", "Bearer "+renewed.Token, adminUser, 7200*time.Second)
	if code, _, body := apiGet(t, srv, "/api/v3/info", "Bearer "+renewed.Token); code != http.StatusOK {
		t.Fatalf("info with the renewed token = %d %s", code, body)
	}
}

func TestLoginAPIErrors(t *testing.T) {
	srv := start(t, nil)
	admin := basic(adminUser, adminPass)
	alice := "Bearer " + srv.Token(t, "alice")
	tokenPath := "/api/v3/users/" + adminUser + "/token"
	tests := []struct {
		name, path, auth string
		code             int
		want             string // exact body
	}{
		{"no credentials", tokenPath, "", 401, ""},
		{"wrong password", tokenPath, basic(adminUser, "x"), 403, ""},
		{"bad token", tokenPath, "Bearer abc", 403, ""},
		{"a token user", "/api/v3/users/alice/token", alice, 403,
			`{"Model":"users","Key":"alice","Type":"AUTH","Messages":["Cannot access /api/v3/users/alice/token","Requires: users token alice"],"Code":403}`},
		{"another user's token", "/api/v3/users/alice/token", admin, 403,
			`{"Model":"users","Key":"alice","Type":"AUTH","Messages":["Cannot access /api/v3/users/alice/token","Requires: users token alice"],"Code":403}`},
		{"ttl not a number", tokenPath + "?ttl=10m", admin, 400,
			`{"Model":"users","Key":"rocketskates","Type":"GET","Messages":["ttl: want a number of seconds from 1 to 604800"],"Code":400}`},
		{"ttl too long", tokenPath + "?ttl=604801", admin, 400,
			`{"Model":"users","Key":"rocketskates","Type":"GET","Messages":["ttl: want a number of seconds from 1 to 604800"],"Code":400}`},
		{"info without credentials", "/api/v3/info", "", 401, ""},
		{"info with a bad token", "/api/v3/info", "Bearer abc", 403, ""},
		// Everything else of DRP's API: its 404 JSON, never the Centrifugo
		// face's text, with or without credentials.
		{"machines", "/api/v3/machines", admin, 404,
			`{"Model":"","Key":"","Type":"API_ERROR","Messages":["Not provided by this server: GET /api/v3/machines"],"Code":404}`},
		{"no trailing slash", "/api/v3", "", 404,
			`{"Model":"","Key":"","Type":"API_ERROR","Messages":["Not provided by this server: GET /api/v3"],"Code":404}`},
		{"users", "/api/v3/users/" + adminUser, admin, 404,
			`{"Model":"","Key":"","Type":"API_ERROR","Messages":["Not provided by this server: GET /api/v3/users/rocketskates"],"Code":404}`},
		{"a nested user", "/api/v3/users/a/b/token", admin, 404,
			`{"Model":"","Key":"","Type":"API_ERROR","Messages":["Not provided by this server: GET /api/v3/users/a/b/token"],"Code":404}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, ct, body := apiGet(t, srv, tt.path, tt.auth)
			if code != tt.code || string(body) != tt.want {
				t.Fatalf("GET %s = %d %s\nwant %d %s", tt.path, code, body, tt.code, tt.want)
			}
			if tt.want != "" && !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("content type %q", ct)
			}
		})
	}
	t.Run("wrong method", func(t *testing.T) {
		req, _ := http.NewRequestWithContext(ctxT(t), http.MethodPost, srv.HTTPURL+tokenPath, nil)
		req.Header.Set("Authorization", admin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusMethodNotAllowed || string(b) != `{"Model":"events","Key":"","Type":"POST","Messages":["Method not allowed"],"Code":405}` {
			t.Fatalf("POST token = %d %s", resp.StatusCode, b)
		}
	})
}

// TestAdminTokenPostsAndTokenSpelling: a token for an admin (however it was
// minted) may post events; the docs' ?Token= spelling logs in too.
func TestAdminTokenPostsAndTokenSpelling(t *testing.T) {
	srv := start(t, nil)
	adminTok := srv.Token(t, adminUser)
	if code, _, body := postEvent(t, srv, nil, "Bearer "+adminTok, "application/json", postedBody); code != http.StatusNoContent {
		t.Fatalf("POST with a token for %s = %d %s", adminUser, code, body)
	}
	for _, q := range []string{"Token=" + adminUser + ":" + adminPass, "Token=" + adminTok} {
		c, _, err := dial(t, srv, "", q, nil)
		if err != nil {
			t.Fatalf("dial ?%s: %v", q, err)
		}
		cl := &client{t: t, c: c}
		cl.do("register", "profiles.*.*")
		c.Close(websocket.StatusNormalClosure, "")
	}
}
