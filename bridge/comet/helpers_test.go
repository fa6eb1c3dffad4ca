package comet_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pquerna/otp/totp"
	"golang.org/x/crypto/bcrypt"

	"github.com/switchboard-hub/switchboard/internal/app"
	"github.com/switchboard-hub/switchboard/internal/app/apptest"
	"github.com/switchboard-hub/switchboard/internal/streamable"
)

// Accounts of the test servers: a plain password, a bcrypt hash, and one
// that needs a TOTP code.
const (
	adminUser  = "admin"
	adminPass  = "s3cret-pw"
	hashedUser = "hashed"
	hashedPass = "hashed-pw"
	totpUser   = "totp"
	totpPass   = "totp-pw"
	totpSecret = "JBSWY3DPEHPK3PXP"
)

// wait bounds every read and call of these tests.
const wait = 10 * time.Second

func start(t *testing.T, tweak func(*app.Config)) *apptest.Server {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(hashedPass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return apptest.Start(t, func(c *app.Config) {
		c.Admins = []app.Admin{
			{Username: adminUser, Password: adminPass},
			{Username: hashedUser, Password: string(hash)},
			{Username: totpUser, Password: totpPass, TOTPSecret: totpSecret},
		}
		if tweak != nil {
			tweak(c)
		}
	})
}

// code is the TOTP code of the test secret for t.
func code(t *testing.T, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCode(totpSecret, at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// dial opens an event stream websocket, with Origin set as Comet's docs ask.
func dial(t *testing.T, s *apptest.Server, query string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	u := s.WSURL + "/api/v1/events/stream"
	if query != "" {
		u += "?" + query
	}
	c, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"https://cometbackup.com"}}})
	if err != nil {
		t.Fatalf("dial %s: %v", u, err)
	}
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// login sends the five login frames and returns the server's answer.
func login(t *testing.T, c *websocket.Conn, user, authType, password, sessionKey, totpCode string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for _, f := range []string{user, authType, password, sessionKey, totpCode} {
		if err := c.Write(ctx, websocket.MessageText, []byte(f)); err != nil {
			t.Fatalf("write login frame: %v", err)
		}
	}
	typ, b, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read login answer: %v", err)
	}
	if typ != websocket.MessageText {
		t.Fatalf("login answer is %v, want text", typ)
	}
	return string(b)
}

// open dials and logs in with a password, and checks 200 OK and HELLO.
func open(t *testing.T, s *apptest.Server, query string) *websocket.Conn {
	t.Helper()
	c := dial(t, s, query)
	if got := login(t, c, adminUser, "Password", adminPass, "", ""); got != "200 OK" {
		t.Fatalf("login answered %q", got)
	}
	if ev := readEvent(t, c); ev.Type != streamable.MetaHello {
		t.Fatalf("first event %+v, want SEVT_META_HELLO", ev)
	}
	return c
}

// readEvent reads one StreamableEvent frame, checking Comet's key spelling.
func readEvent(t *testing.T, c *websocket.Conn) streamable.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	_, b, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read event: %v", err)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(b, &keys); err != nil {
		t.Fatalf("event frame %q: %v", b, err)
	}
	for _, k := range []string{"Actor", "OwnerOrganizationID", "Type"} {
		if _, ok := keys[k]; !ok {
			t.Fatalf("event frame %s has no %q", b, k)
		}
	}
	for k := range keys {
		switch k {
		case "Actor", "OwnerOrganizationID", "ResourceID", "Type", "Timestamp", "TypeString", "Data":
		default:
			t.Fatalf("event frame %s has unknown key %q", b, k)
		}
	}
	var ev streamable.Event
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatalf("event frame %q: %v", b, err)
	}
	return ev
}

// readUntil reads events until one satisfies match, returning it; the
// events skipped are returned too.
func readUntil(t *testing.T, c *websocket.Conn, match func(streamable.Event) bool) (streamable.Event, []streamable.Event) {
	t.Helper()
	var skipped []streamable.Event
	for {
		ev := readEvent(t, c)
		if match(ev) {
			return ev, skipped
		}
		skipped = append(skipped, ev)
	}
}

// wantDropped checks that the server ends the connection without another
// text frame.
func wantDropped(t *testing.T, c *websocket.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	_, b, err := c.Read(ctx)
	if err == nil {
		t.Fatalf("got frame %q after 403 Unauth, want the connection dropped", b)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatal("connection still open after 403 Unauth")
	}
}

// post calls an admin API endpoint with a form and decodes the JSON answer.
func post(t *testing.T, s *apptest.Server, path string, form url.Values) (*http.Response, map[string]any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.HTTPURL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var body map[string]any
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("POST %s answered %d %q: not JSON", path, resp.StatusCode, b)
	}
	return resp, body
}

// form builds Comet's admin fields.
func form(user, authType, password, sessionKey, totpCode string) url.Values {
	v := url.Values{"Username": {user}, "AuthType": {authType}}
	if password != "" {
		v.Set("Password", password)
	}
	if sessionKey != "" {
		v.Set("SessionKey", sessionKey)
	}
	if totpCode != "" {
		v.Set("TOTP", totpCode)
	}
	return v
}

// startSession gets a session key through session-start.
func startSession(t *testing.T, s *apptest.Server, user, pass string) string {
	t.Helper()
	resp, body := post(t, s, "/api/v1/admin/account/session-start", form(user, "Password", pass, "", ""))
	key, _ := body["SessionKey"].(string)
	if resp.StatusCode != 200 || body["Status"] != float64(200) || body["SessionType"] != "admin" || len(key) < 32 {
		t.Fatalf("session-start answered %d %v", resp.StatusCode, body)
	}
	return key
}

func contains(b []byte, sub string) bool { return strings.Contains(string(b), sub) }

// wantJSON compares JSON objects; a want value "*" matches any non-empty value.
func wantJSON(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w map[string]any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("data %s: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	for k, wv := range w {
		gv, ok := g[k]
		if !ok {
			t.Fatalf("data %s has no %q", got, k)
		}
		if wv == "*" {
			continue
		}
		if gb, wb := mustMarshal(gv), mustMarshal(wv); gb != wb {
			t.Fatalf("data %s: %q is %s, want %s", got, k, gb, wb)
		}
	}
	for k := range g {
		if _, ok := w[k]; !ok {
			t.Fatalf("data %s has unexpected %q", got, k)
		}
	}
}

func mustMarshal(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
