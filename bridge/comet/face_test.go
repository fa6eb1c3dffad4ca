package comet_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/app"
	"github.com/switchboard-hub/switchboard/internal/app/apptest"
	"github.com/switchboard-hub/switchboard/internal/streamable"
)

func TestStreamLogin(t *testing.T) {
	s := start(t, nil)
	live := startSession(t, s, adminUser, adminPass)
	revoked := startSession(t, s, hashedUser, hashedPass)
	if resp, body := post(t, s, "/api/v1/admin/account/session-revoke", form(hashedUser, "SessionKey", "", revoked, "")); resp.StatusCode != 200 || body["Status"] != float64(200) {
		t.Fatalf("session-revoke answered %d %v", resp.StatusCode, body)
	}
	now := time.Now()
	used := code(t, now)

	cases := []struct {
		name   string
		frames [5]string // Username, AuthType, Password, SessionKey, TOTP
		want   string
	}{
		{"password ok", [5]string{adminUser, "Password", adminPass, "", ""}, "200 OK"},
		{"bcrypt password ok", [5]string{hashedUser, "Password", hashedPass, "", ""}, "200 OK"},
		{"wrong password", [5]string{adminUser, "Password", "nope", "", ""}, "403 Unauth"},
		{"unknown user", [5]string{"mallory", "Password", adminPass, "", ""}, "403 Unauth"},
		{"session key ok", [5]string{adminUser, "SessionKey", "", live, ""}, "200 OK"},
		{"session key without user", [5]string{"", "SessionKey", "", live, ""}, "200 OK"},
		{"session key of another user", [5]string{hashedUser, "SessionKey", "", live, ""}, "403 Unauth"},
		{"session key revoked", [5]string{hashedUser, "SessionKey", "", revoked, ""}, "403 Unauth"},
		{"session key unknown", [5]string{adminUser, "SessionKey", "", "0123456789abcdef0123456789abcdef", ""}, "403 Unauth"},
		{"TOTP required", [5]string{totpUser, "Password", totpPass, "", ""}, "403 Unauth"},
		{"TOTP ok", [5]string{totpUser, "PasswordTOTP", totpPass, "", used}, "200 OK"},
		{"TOTP replayed", [5]string{totpUser, "PasswordTOTP", totpPass, "", used}, "403 Unauth"},
		{"TOTP wrong", [5]string{totpUser, "PasswordTOTP", totpPass, "", "000000"}, "403 Unauth"},
		{"TOTP with wrong password", [5]string{totpUser, "PasswordTOTP", "nope", "", code(t, now.Add(-30*time.Second))}, "403 Unauth"},
		{"TOTP on an account without", [5]string{adminUser, "PasswordTOTP", adminPass, "", "123456"}, "403 Unauth"},
		{"U2F refused", [5]string{adminUser, "PasswordU2F", adminPass, "", ""}, "403 Unauth"},
		{"unknown auth type", [5]string{adminUser, "Kerberos", adminPass, "", ""}, "403 Unauth"},
		{"no auth type", [5]string{adminUser, "", adminPass, "", ""}, "403 Unauth"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, s, "")
			f := tc.frames
			got := login(t, c, f[0], f[1], f[2], f[3], f[4])
			if got != tc.want {
				t.Fatalf("login answered %q, want %q", got, tc.want)
			}
			if tc.want == "403 Unauth" {
				wantDropped(t, c)
				return
			}
			if ev := readEvent(t, c); ev.Type != streamable.MetaHello || ev.TypeString != "SEVT_META_HELLO" {
				t.Fatalf("first event %+v, want SEVT_META_HELLO", ev)
			}
		})
	}
}

func TestSessionKeyExpires(t *testing.T) {
	s := start(t, func(c *app.Config) { c.AdminSessionTTL = app.Duration(300 * time.Millisecond) })
	key := startSession(t, s, adminUser, adminPass)
	c := dial(t, s, "")
	if got := login(t, c, adminUser, "SessionKey", "", key, ""); got != "200 OK" {
		t.Fatalf("fresh key answered %q", got)
	}
	admin := pb.NewAdminServiceClient(s.Conn)
	deadline := time.Now().Add(wait)
	for {
		_, err := admin.ValidateSession(context.Background(), &pb.ValidateSessionRequest{SessionKey: key})
		if status.Code(err) == codes.NotFound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("key still valid after its TTL: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	c = dial(t, s, "")
	if got := login(t, c, adminUser, "SessionKey", "", key, ""); got != "403 Unauth" {
		t.Fatalf("expired key answered %q", got)
	}
	wantDropped(t, c)
}

func TestAPI(t *testing.T) {
	s := start(t, nil)
	const version = "/api/v1/admin/meta/version"

	// Password-only against a TOTP account: 449 with the header (§2.1).
	resp, body := post(t, s, version, form(totpUser, "Password", totpPass, "", ""))
	if resp.StatusCode != 449 || resp.Header.Get("X-Comet-TOTP-Requested") != "1" || body["Status"] != float64(449) || body["Message"] != "ERR_TOTP_REQUIRED" {
		t.Fatalf("password-only TOTP account: %d %v %v", resp.StatusCode, resp.Header, body)
	}
	// A wrong password is not told that TOTP is needed.
	resp, _ = post(t, s, version, form(totpUser, "Password", "nope", "", ""))
	if resp.StatusCode != 403 || resp.Header.Get("X-Comet-TOTP-Requested") != "" {
		t.Fatalf("wrong password on TOTP account: %d %v", resp.StatusCode, resp.Header)
	}
	// PasswordTOTP: accepted once.
	c := code(t, time.Now())
	resp, body = post(t, s, "/api/v1/admin/account/session-start", form(totpUser, "PasswordTOTP", totpPass, "", c))
	key, _ := body["SessionKey"].(string)
	if resp.StatusCode != 200 || key == "" {
		t.Fatalf("PasswordTOTP session-start: %d %v", resp.StatusCode, body)
	}
	if resp, body = post(t, s, version, form(totpUser, "PasswordTOTP", totpPass, "", c)); resp.StatusCode != 403 || body["Status"] != float64(403) {
		t.Fatalf("replayed code: %d %v", resp.StatusCode, body)
	}
	// The session key from it works for other calls.
	if resp, body = post(t, s, version, form(totpUser, "SessionKey", "", key, "")); resp.StatusCode != 200 || body["Version"] == nil {
		t.Fatalf("meta/version with the session key: %d %v", resp.StatusCode, body)
	}
	// Headers instead of form fields (multipart calls).
	req, _ := http.NewRequest(http.MethodPost, s.HTTPURL+version, nil)
	req.Header.Set("X-Comet-Admin-Username", adminUser)
	req.Header.Set("X-Comet-Admin-AuthType", "Password")
	req.Header.Set("X-Comet-Admin-Password", adminPass)
	hr, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	hr.Body.Close()
	if hr.StatusCode != 200 {
		t.Fatalf("X-Comet-Admin-* headers: %d", hr.StatusCode)
	}
	// U2F is refused with a clear message.
	if resp, body = post(t, s, version, form(adminUser, "PasswordU2F", adminPass, "", "")); resp.StatusCode != 400 || body["Message"] != "PasswordU2F is not supported: use PasswordTOTP" {
		t.Fatalf("U2F: %d %v", resp.StatusCode, body)
	}
	// Anything unknown under /api/v1/ is Comet's 404, not another face's answer.
	for _, p := range []string{"/api/v1/nope", "/api/v1/admin/list-users", "/api/v1/"} {
		resp, body = post(t, s, p, form(adminUser, "Password", adminPass, "", ""))
		if resp.StatusCode != 404 || body["Status"] != float64(404) || body["Message"] == "" {
			t.Fatalf("POST %s: %d %v", p, resp.StatusCode, body)
		}
	}
	// The Centrifugo face still owns the rest of /api/.
	cr, err := http.Post(s.HTTPURL+"/api/", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	cr.Body.Close()
	if cr.StatusCode == 404 {
		t.Fatalf("POST /api/ answered 404: the Centrifugo face lost its path")
	}
}

func TestFailedLoginsLimited(t *testing.T) {
	s := start(t, nil)
	const version = "/api/v1/admin/meta/version"
	for i := range 5 {
		if resp, _ := post(t, s, version, form(adminUser, "Password", fmt.Sprintf("wrong%d", i), "", "")); resp.StatusCode != 403 {
			t.Fatalf("failure %d answered %d", i, resp.StatusCode)
		}
	}
	// The account is locked for the window, even with the right password...
	if resp, body := post(t, s, version, form(adminUser, "Password", adminPass, "", "")); resp.StatusCode != 429 || body["Status"] != float64(429) {
		t.Fatalf("after 5 failures: %d %v", resp.StatusCode, body)
	}
	c := dial(t, s, "")
	if got := login(t, c, adminUser, "Password", adminPass, "", ""); got != "403 Unauth" {
		t.Fatalf("stream login of a locked account answered %q", got)
	}
	// ...while another account is not.
	if resp, _ := post(t, s, version, form(hashedUser, "Password", hashedPass, "", "")); resp.StatusCode != 200 {
		t.Fatalf("other account: %d", resp.StatusCode)
	}
}

func TestHelloAndAllowList(t *testing.T) {
	s := start(t, nil)
	all := open(t, s, "")
	logins := open(t, s, "allowList=4153,4154")
	hubOnly := open(t, s, "allowList=4900")

	publish(t, s, &pb.Event{Tenant: "7", Channel: "news", Name: "created", Key: "k1", Data: `{"a":1}`, Publisher: &pb.Publisher{User: "u9"}})
	post(t, s, "/api/v1/admin/meta/version", form(adminUser, "Password", "nope", "", ""))
	post(t, s, "/api/v1/admin/meta/version", form(adminUser, "Password", adminPass, "", ""))

	ev, _ := readUntil(t, all, func(e streamable.Event) bool { return e.Type == streamable.HubEvent })
	if ev.OwnerOrganizationID != "7" || ev.ResourceID != "k1" || ev.Actor != "u9" || ev.TypeString != "SEVT_HUB_EVENT" || ev.Timestamp == 0 {
		t.Fatalf("hub event %+v", ev)
	}
	wantJSON(t, ev.Data, `{"ID":"*","Tenant":"7","Channel":"news","Name":"created","Key":"k1","User":"u9","Data":{"a":1},"Offset":"*"}`)
	failed := readEvent(t, all)
	ok := readEvent(t, all)
	if failed.Type != streamable.AdminLoginFailed || ok.Type != streamable.AdminLogin || ok.Actor != adminUser || ok.ResourceID != "/api/v1/admin/meta/version" {
		t.Fatalf("login events %+v %+v", failed, ok)
	}

	// The allow-lists filter by type, in order: the logins stream saw the
	// hub-only stream log in, then the two logins above, and no hub event.
	if ev := readEvent(t, logins); ev.Type != streamable.AdminLogin || ev.ResourceID != "/api/v1/events/stream" {
		t.Fatalf("logins stream got %+v first", ev)
	}
	if ev := readEvent(t, logins); ev.Type != streamable.AdminLoginFailed {
		t.Fatalf("logins stream got %+v second", ev)
	}
	if ev := readEvent(t, logins); ev.Type != streamable.AdminLogin || ev.ResourceID != "/api/v1/admin/meta/version" {
		t.Fatalf("logins stream got %+v third", ev)
	}
	if ev := readEvent(t, hubOnly); ev.Type != streamable.HubEvent {
		t.Fatalf("hub-only stream got %+v", ev)
	}
	// A barrier: the next event the hub-only stream sees is the next publish.
	publish(t, s, &pb.Event{Channel: "barrier", Data: `1`})
	if ev := readEvent(t, hubOnly); ev.Type != streamable.HubEvent || !contains(ev.Data, `"barrier"`) {
		t.Fatalf("hub-only stream got %+v, want the barrier", ev)
	}

	// A bad allowList is refused before the upgrade, in Comet's shape.
	resp, err := http.Get(s.HTTPURL + "/api/v1/events/stream?allowList=12,x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("bad allowList: %d", resp.StatusCode)
	}
}

func TestOrdering(t *testing.T) {
	s := start(t, nil)
	c := open(t, s, "allowList=4900")
	const n = 300
	for i := range n {
		publish(t, s, &pb.Event{Channel: fmt.Sprintf("ch%d", i%7), Data: fmt.Sprint(i)})
	}
	for i := range n {
		ev := readEvent(t, c)
		if want := fmt.Sprintf(`"Data":%d,`, i); !contains(ev.Data, want) {
			t.Fatalf("event %d: %s", i, ev.Data)
		}
	}
}

// publish publishes through the gRPC API.
func publish(t *testing.T, s *apptest.Server, ev *pb.Event) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if _, err := s.Hub.Publish(ctx, &pb.PublishRequest{Event: ev}); err != nil {
		t.Fatalf("publish: %v", err)
	}
}
