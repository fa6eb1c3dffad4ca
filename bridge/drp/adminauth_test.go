package drp_test

import (
	"net/http"
	"testing"

	"github.com/switchboard-hub/switchboard/internal/app"
)

// infoStatus asks GET /api/v3/info with an Authorization header.
func infoStatus(t *testing.T, url, auth string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url+"/api/v3/info", nil)
	req.Header.Set("Authorization", auth)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// DRP's password logins are the core's admin check: failed logins count
// against the same per-account limit as every other face's, and an account
// with a second factor cannot log in with its password alone.
func TestPasswordLoginsGoThroughTheAdminService(t *testing.T) {
	srv := start(t, func(c *app.Config) {
		c.Admins = append(c.Admins, app.Admin{Username: "otp", Password: "otp-pass", TOTPSecret: "JBSWY3DPEHPK3PXP"})
	})
	if got := infoStatus(t, srv.HTTPURL, basic(adminUser, adminPass)); got != http.StatusOK {
		t.Fatalf("right password: %d", got)
	}
	if got := infoStatus(t, srv.HTTPURL, basic("otp", "otp-pass")); got != http.StatusForbidden {
		t.Fatalf("password of a TOTP account: %d, want 403", got)
	}
	for range 5 {
		if got := infoStatus(t, srv.HTTPURL, basic(adminUser, "wrong")); got != http.StatusForbidden {
			t.Fatalf("wrong password: %d", got)
		}
	}
	// The account is locked for the rest of the minute, on every face.
	if got := infoStatus(t, srv.HTTPURL, basic(adminUser, adminPass)); got != http.StatusForbidden {
		t.Fatalf("right password after five failures: %d, want 403 (locked)", got)
	}
}
