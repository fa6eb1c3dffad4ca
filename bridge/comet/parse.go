package comet

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// Limits on client input.
const (
	// MaxFieldBytes bounds one credential value (a login frame, a form
	// field). Comet documents none; passwords and keys are far shorter.
	MaxFieldBytes = 1024
	// maxAllowList bounds the types in allowList.
	maxAllowList = 1000
	// LoginFrames is how many text frames the stream login takes (§2.3).
	LoginFrames = 5
)

// ParseError is input the face refuses; Msg is safe to show the client.
type ParseError struct{ Msg string }

func (e *ParseError) Error() string { return e.Msg }

func parseErr(format string, args ...any) *ParseError {
	return &ParseError{Msg: fmt.Sprintf(format, args...)}
}

// ParseAuthType reads Comet's AuthType value. Empty is "not given" (the
// zero value); "TOTP" is the API reference's other spelling of PasswordTOTP.
func ParseAuthType(s string) (pb.AdminAuthType, error) {
	switch s {
	case "":
		return pb.AdminAuthType_ADMIN_AUTH_TYPE_UNSPECIFIED, nil
	case "Password":
		return pb.AdminAuthType_ADMIN_AUTH_TYPE_PASSWORD, nil
	case "SessionKey":
		return pb.AdminAuthType_ADMIN_AUTH_TYPE_SESSION_KEY, nil
	case "PasswordTOTP", "TOTP":
		return pb.AdminAuthType_ADMIN_AUTH_TYPE_PASSWORD_TOTP, nil
	case "PasswordU2F":
		return pb.AdminAuthType_ADMIN_AUTH_TYPE_PASSWORD_U2F, nil
	}
	return 0, parseErr("unknown AuthType %q", clip(s))
}

// field checks one credential value.
func field(name, v string) error {
	if len(v) > MaxFieldBytes {
		return parseErr("%s is longer than %d bytes", name, MaxFieldBytes)
	}
	if !utf8.ValidString(v) {
		return parseErr("%s is not valid UTF-8", name)
	}
	return nil
}

// ParseLogin reads the five login frames of the event stream, in order
// Username, AuthType, Password, SessionKey, TOTP (§2.3); an empty frame
// leaves its value unset.
func ParseLogin(frames [LoginFrames][]byte) (Credentials, error) {
	names := [LoginFrames]string{"Username", "AuthType", "Password", "SessionKey", "TOTP"}
	var v [LoginFrames]string
	for i, f := range frames {
		v[i] = string(f)
		if err := field(names[i], v[i]); err != nil {
			return Credentials{}, err
		}
	}
	return credentials(v[0], v[1], v[2], v[3], v[4])
}

func credentials(user, authType, password, sessionKey, totp string) (Credentials, error) {
	at, err := ParseAuthType(authType)
	if err != nil {
		return Credentials{}, err
	}
	return Credentials{Username: user, AuthType: at, Password: password, SessionKey: sessionKey, TOTP: totp}, nil
}

// ParseForm reads the admin fields of an API call from its parsed form,
// falling back to the X-Comet-Admin-* headers that multipart calls use
// (§2.1).
func ParseForm(form url.Values, h http.Header) (Credentials, error) {
	get := func(name string) (string, error) {
		v := form.Get(name)
		if v == "" {
			v = h.Get("X-Comet-Admin-" + name)
		}
		return v, field(name, v)
	}
	var v [LoginFrames]string
	for i, name := range [LoginFrames]string{"Username", "AuthType", "Password", "SessionKey", "TOTP"} {
		s, err := get(name)
		if err != nil {
			return Credentials{}, err
		}
		v[i] = s
	}
	return credentials(v[0], v[1], v[2], v[3], v[4])
}

// ParseAllowList reads the allowList query value: comma-separated SEVT
// numbers (§1). Empty means every type; blanks between commas are skipped.
func ParseAllowList(s string) ([]int32, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []int32
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if len(out) == maxAllowList {
			return nil, parseErr("allowList: at most %d types", maxAllowList)
		}
		n, err := strconv.ParseInt(part, 10, 32)
		if err != nil || n < 4000 || n > 4999 {
			return nil, parseErr("allowList: %q is not a SEVT number (4000..4999)", clip(part))
		}
		out = append(out, int32(n))
	}
	return out, nil
}

// clip bounds client text quoted back in errors and logs.
func clip(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}

// ParseWebhookOptions decodes the WebhookOptions form field of
// AdminMetaWebhookOptionsSet: the whole endpoint map as JSON.
func ParseWebhookOptions(v string) (map[string]WebhookOption, error) {
	if v == "" {
		return nil, parseErr("WebhookOptions is required")
	}
	if !utf8.ValidString(v) {
		return nil, parseErr("WebhookOptions is not valid UTF-8")
	}
	dec := json.NewDecoder(strings.NewReader(v))
	dec.DisallowUnknownFields()
	var m map[string]WebhookOption
	if err := dec.Decode(&m); err != nil {
		return nil, parseErr("WebhookOptions: %s", clip(err.Error()))
	}
	if dec.More() {
		return nil, parseErr("WebhookOptions: data after the JSON object")
	}
	if m == nil {
		m = map[string]WebhookOption{}
	}
	return m, nil
}
