package comet_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/switchboard-hub/switchboard/bridge/comet"
)

// FuzzParseLogin: the five login frames never panic, and whatever is
// accepted is within the limits.
func FuzzParseLogin(f *testing.F) {
	f.Add("admin", "Password", "pw", "", "")
	f.Add("", "SessionKey", "", "0123abcd", "")
	f.Add("totp", "PasswordTOTP", "pw", "", "123456")
	f.Add("x", "PasswordU2F", "\xff", "", "")
	f.Add("x", "bogus", "", "", "")
	f.Fuzz(func(t *testing.T, user, authType, password, key, code string) {
		frames := [comet.LoginFrames][]byte{[]byte(user), []byte(authType), []byte(password), []byte(key), []byte(code)}
		c, err := comet.ParseLogin(frames)
		if err != nil {
			return
		}
		if c.Username != user || c.Password != password || c.SessionKey != key || c.TOTP != code {
			t.Fatalf("ParseLogin changed the values: %+v", c)
		}
		for _, v := range []string{user, password, key, code} {
			if len(v) > comet.MaxFieldBytes {
				t.Fatalf("accepted a %d-byte value", len(v))
			}
		}
	})
}

// FuzzParseForm: form bodies and the allowList query never panic.
func FuzzParseForm(f *testing.F) {
	f.Add("Username=admin&AuthType=Password&Password=pw", "4100,4101")
	f.Add("Username=a&AuthType=TOTP&Password=p&TOTP=000000", "")
	f.Add("%zz=1&AuthType=%ff", " , ,4999")
	f.Add("AuthType=SessionKey&SessionKey=k", "4000,5000,-1,x")
	f.Fuzz(func(t *testing.T, body, allow string) {
		if v, err := url.ParseQuery(body); err == nil {
			_, _ = comet.ParseForm(v, http.Header{"X-Comet-Admin-Username": {body}})
		}
		list, err := comet.ParseAllowList(allow)
		if err != nil {
			return
		}
		for _, n := range list {
			if n < 4000 || n > 4999 {
				t.Fatalf("ParseAllowList(%q) accepted %d", allow, n)
			}
		}
	})
}
