package drp

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/access"
	"github.com/switchboard-hub/switchboard/internal/token"
)

// identity is who opened a socket or posted an event.
type identity struct {
	User string
	// Admin: authenticated as one of Options.Admins, by password or by a
	// token whose subject is the admin's name. Admins may publish
	// (POST /api/v3/events), get tokens for themselves and see every
	// channel; other token users only read, and only the channels the
	// core's rules open to them (see reader).
	Admin bool
}

// reader is on whose behalf the socket reads: admins as the server, token
// users as themselves (their token was verified). DRP checks claims per
// event (drp.md §3.3); here the core's audience of each event decides,
// compared in the shared fan-out (package access).
func (id identity) reader() access.Reader {
	if id.Admin {
		return access.ServerReader
	}
	return access.Reader{User: id.User, Authenticated: true}
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
			return a.login(r, user, pass)
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
		return a.login(r, string(user), string(pass))
	case "Bearer":
		return a.bearer(cred)
	default:
		return identity{}, unauthorized(errBadScheme)
	}
}

// authenticator checks credentials: user name and password through the
// core's AdminService (the one admin check of every face), tokens with the
// token secret.
type authenticator struct {
	admins      pb.AdminServiceClient
	names       map[string]bool // admin user names: a token of one is that admin's
	tokenSecret []byte
}

// login checks a user name and password with AdminService (password
// logins; an account with a TOTP secret cannot log in through DRP, which
// has no field for the code): 403 on failure, 503 while the core cannot
// answer.
func (a *authenticator) login(r *http.Request, user, pass string) (identity, *authError) {
	if a.admins == nil {
		return identity{}, &authError{status: http.StatusForbidden, reason: fmt.Errorf("%w: no admin service", errBadLogin)}
	}
	ctx, cancel := context.WithTimeout(r.Context(), loginTimeout)
	defer cancel()
	resp, err := a.admins.Authenticate(ctx, &pb.AuthenticateRequest{Credentials: &pb.AdminCredentials{
		Username: user, AuthType: pb.AdminAuthType_ADMIN_AUTH_TYPE_PASSWORD, Password: pass,
		Address: remoteHost(r), Resource: r.URL.Path,
	}})
	if err != nil {
		if unreachable(err) {
			return identity{}, &authError{status: http.StatusServiceUnavailable, reason: err}
		}
		return identity{}, &authError{status: http.StatusForbidden, reason: fmt.Errorf("%w: %q: %w", errBadLogin, clip(user), err)}
	}
	return identity{User: resp.GetUsername(), Admin: true}, nil
}

func newAuthenticator(opts Options) authenticator {
	names := make(map[string]bool, len(opts.AdminNames))
	for _, n := range opts.AdminNames {
		names[n] = true
	}
	return authenticator{admins: opts.Admins, names: names, tokenSecret: opts.TokenSecret}
}

// loginTimeout bounds one password check by the core.
const loginTimeout = 10 * time.Second

func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
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
func (a *authenticator) isAdmin(user string) bool { return a.names[user] }

func (a *authenticator) verifyToken(tok string) (string, error) {
	return token.VerifyUser(tok, a.tokenSecret)
}
