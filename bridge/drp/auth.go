package drp

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/token"
)

// identity is who opened a socket or posted an event.
type identity struct {
	User string
	// Admin: authenticated as an administrator (AdminService). Admins may publish
	// (POST /api/v3/events) and see every channel; token users only read,
	// and only channels open to them (see userMayReceive).
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
//   - the query parameter "token" (lower case): with a ":" it is
//     user:password, else a bearer token.
//
// Missing or malformed credentials: 401 with WWW-Authenticate: dr-provision.
// Wrong user or password: 403. Invalid or expired token: 403 with the header.
func (a *authenticator) authenticate(r *http.Request) (identity, *authError) {
	header := r.Header.Get("Authorization")
	if header == "" {
		tok := r.URL.Query().Get("token")
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

// authenticator checks user names and passwords with the core's
// AdminService (the one admin check of every face) and bearer tokens with
// the token secret.
type authenticator struct {
	admins      pb.AdminServiceClient
	tokenSecret []byte
}

// loginTimeout bounds the AdminService call of one login.
const loginTimeout = 10 * time.Second

// login checks a user name and password as an AdminService Password login:
// 403 on wrong credentials (and for accounts that need a TOTP code, which
// Basic cannot carry, or that are locked after failed logins); 503 when the
// core cannot answer.
func (a *authenticator) login(r *http.Request, user, pass string) (identity, *authError) {
	if a.admins == nil {
		return identity{}, &authError{status: http.StatusForbidden, reason: fmt.Errorf("%w: %q (no admin service)", errBadLogin, clip(user))}
	}
	ctx, cancel := context.WithTimeout(r.Context(), loginTimeout)
	defer cancel()
	resp, err := a.admins.Authenticate(ctx, &pb.AuthenticateRequest{Credentials: &pb.AdminCredentials{
		Username: user,
		AuthType: pb.AdminAuthType_ADMIN_AUTH_TYPE_PASSWORD,
		Password: pass,
		Address:  r.RemoteAddr,
		Resource: r.URL.Path,
	}})
	switch status.Code(err) {
	case codes.OK:
		return identity{User: resp.GetUsername(), Admin: true}, nil
	case codes.Unauthenticated, codes.FailedPrecondition, codes.ResourceExhausted, codes.PermissionDenied, codes.InvalidArgument:
		return identity{}, &authError{status: http.StatusForbidden, reason: fmt.Errorf("%w: %q: %v", errBadLogin, clip(user), err)}
	default:
		return identity{}, &authError{status: http.StatusServiceUnavailable, reason: err}
	}
}

// bearer checks an HS256 JWT signed with token_secret: exp required and in
// the future, sub (the user id) required. 403 with the challenge otherwise.
func (a *authenticator) bearer(tok string) (identity, *authError) {
	user, err := a.verifyToken(tok)
	if err != nil {
		return identity{}, &authError{status: http.StatusForbidden, challenge: true, reason: err}
	}
	return identity{User: user}, nil
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
