package drp

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/switchboard-hub/switchboard/internal/token"
)

// Admin is an account that may log in with a user name and password (HTTP
// Basic, or ?token=user:password). Password is either the plain password or
// a bcrypt hash ($2a$, $2b$ or $2y$ prefix).
type Admin struct {
	Username string
	Password string
}

// identity is who opened a socket or posted an event.
type identity struct {
	User string
	// Admin: authenticated as one of Options.Admins, by password or by a
	// token whose subject is the admin's name. Admins may publish
	// (POST /api/v3/events), get tokens for themselves and see every
	// channel; other token users only read, and only channels open to them
	// (see userMayReceive).
	Admin bool
}

// challenge is DRP's WWW-Authenticate value.
const challenge = "dr-provision"

// authError is a refused request: the status and whether the DRP challenge
// header goes with it (drp.md §2 table). The body is empty, as in DRP.
type authError struct {
	status    int
	challenge bool
	reason    error // for the log only
}

func (e *authError) Error() string { return fmt.Sprintf("%d: %v", e.status, e.reason) }

// Reasons for the log; never shown to the client.
var (
	errNoCredentials = errors.New("no Authorization header and no token parameter")
	errBadScheme     = errors.New("authorization is not \"Basic x\" or \"Bearer x\"")
	errBadBasic      = errors.New("malformed basic credentials")
	errBadLogin      = errors.New("unknown user or wrong password")
)

func unauthorized(reason error) *authError {
	return &authError{status: http.StatusUnauthorized, challenge: true, reason: reason}
}

// write answers the refused request.
func (e *authError) write(w http.ResponseWriter) {
	if e.challenge {
		w.Header().Set("WWW-Authenticate", challenge)
	}
	w.WriteHeader(e.status)
}

// authenticate applies DRP's userAuth (drp.md §2) to r:
//
//   - an Authorization header "Basic <base64 user:pass>" or "Bearer <jwt>"
//     (scheme case-sensitive, as DRP's); otherwise
//   - the query parameter "token" (DRP's server reads this spelling) or
//     "Token" (the spelling of DRP's own websocket docs): with a ":" it is
//     user:password, else a bearer token.
//
// Missing or malformed credentials: 401 with WWW-Authenticate: dr-provision.
// Wrong user or password: 403. Invalid or expired token: 403 with the header.
func (a *authenticator) authenticate(r *http.Request) (identity, *authError) {
	header := r.Header.Get("Authorization")
	if header == "" {
		q := r.URL.Query()
		tok := q.Get("token")
		if tok == "" {
			tok = q.Get("Token")
		}
		switch {
		case tok == "":
			return identity{}, unauthorized(errNoCredentials)
		case strings.Contains(tok, ":"):
			user, pass, _ := strings.Cut(tok, ":")
			return a.login(user, pass)
		default:
			return a.bearer(tok)
		}
	}
	scheme, cred, ok := strings.Cut(header, " ")
	if !ok {
		return identity{}, unauthorized(errBadScheme)
	}
	switch scheme {
	case "Basic":
		raw, err := base64.StdEncoding.DecodeString(cred)
		if err != nil {
			return identity{}, unauthorized(fmt.Errorf("%w: %w", errBadBasic, err))
		}
		user, pass, ok := bytes.Cut(raw, []byte(":"))
		if !ok {
			return identity{}, unauthorized(fmt.Errorf("%w: no colon", errBadBasic))
		}
		return a.login(string(user), string(pass))
	case "Bearer":
		return a.bearer(cred)
	default:
		return identity{}, unauthorized(errBadScheme)
	}
}

// authenticator checks credentials against the configured admins and the
// token secret.
type authenticator struct {
	admins      []Admin
	tokenSecret []byte
}

// login checks a user name and password against the admins: 403 on failure.
// Every admin is compared, so the time taken does not tell which names exist
// (bcrypt hashes are only checked for the matching name).
func (a *authenticator) login(user, pass string) (identity, *authError) {
	var found *Admin
	for i := range a.admins {
		if subtle.ConstantTimeCompare([]byte(a.admins[i].Username), []byte(user)) == 1 && found == nil {
			found = &a.admins[i]
		}
	}
	if found == nil || !passwordMatches(found.Password, pass) {
		return identity{}, &authError{status: http.StatusForbidden, reason: fmt.Errorf("%w: %q", errBadLogin, clip(user))}
	}
	return identity{User: found.Username, Admin: true}, nil
}

// passwordMatches compares pass with a stored password: bcrypt when the
// stored value is a bcrypt hash, else a constant-time comparison.
func passwordMatches(stored, pass string) bool {
	if isBcrypt(stored) {
		return bcrypt.CompareHashAndPassword([]byte(stored), []byte(pass)) == nil
	}
	return subtle.ConstantTimeCompare([]byte(stored), []byte(pass)) == 1
}

func isBcrypt(s string) bool {
	return strings.HasPrefix(s, "$2a$") || strings.HasPrefix(s, "$2b$") || strings.HasPrefix(s, "$2y$")
}

// bearer checks an HS256 JWT signed with token_secret: exp required and in
// the future, sub (the user id) required. 403 with the challenge otherwise.
// A token whose subject is an admin's user name is that admin's, as DRP's
// tokens carry their user's rights: the tokens GET /api/v3/users/<admin>/token
// hands out are used for the event POST and their own renewal.
func (a *authenticator) bearer(tok string) (identity, *authError) {
	user, err := a.verifyToken(tok)
	if err != nil {
		return identity{}, &authError{status: http.StatusForbidden, challenge: true, reason: err}
	}
	return identity{User: user, Admin: a.isAdmin(user)}, nil
}

// isAdmin reports whether user is the name of a configured admin.
func (a *authenticator) isAdmin(user string) bool {
	found := false
	for i := range a.admins {
		if subtle.ConstantTimeCompare([]byte(a.admins[i].Username), []byte(user)) == 1 {
			found = true
		}
	}
	return found
}

func (a *authenticator) verifyToken(tok string) (string, error) {
	return token.VerifyUser(tok, a.tokenSecret)
}

// userMayReceive applies the core's user-limited channel rule to a socket
// of a token user: a channel whose name ends in "#" and a comma list of user
// ids ("news#42", "dialog#42,43") is only for those users. The face shares
// one trusted upstream stream among every socket with the same filters, so
// it must apply the rule itself, per socket (DRP checks claims per event,
// drp.md §3.3). Admins see every channel.
func userMayReceive(channel, user string) bool {
	i := strings.LastIndexByte(channel, '#')
	if i < 0 {
		return true
	}
	if user == "" {
		return false
	}
	for u := range strings.SplitSeq(channel[i+1:], ",") {
		if u == user {
			return true
		}
	}
	return false
}
