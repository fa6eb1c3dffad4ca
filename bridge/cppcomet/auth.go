package cppcomet

import (
	"context"
	"strconv"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/token"
)

// sessionUndefined is what the JS client sends as `sesion` when the page
// has no credentials.
const sessionUndefined = "undefined"

// authenticator checks the `sesion` credential of a URL (§2).
type authenticator struct {
	secret []byte // token_secret; empty turns JWT logins off
	users  pb.UserServiceClient
}

// loginMethod says how a connection was authorized.
type loginMethod uint8

const (
	loginNone loginMethod = iota
	loginJWT
	loginHash
)

// authenticate returns how p's credentials authorize user p.UserID, or
// loginNone. Failures (including the user service being unreachable) leave
// the connection anonymous, as comet-server does with a bad hash; they are
// returned for the log only.
func (a authenticator) authenticate(ctx context.Context, p Params) (loginMethod, error) {
	if p.UserID <= 0 || p.Session == "" || p.Session == sessionUndefined || len(p.Session) > MaxSessionLen {
		return loginNone, nil
	}
	if a.verifyJWT(p.Session, p.UserID, p.DevID) {
		return loginJWT, nil
	}
	r, err := a.users.CheckAuthHash(ctx, &pb.CheckAuthHashRequest{
		Tenant: p.Tenant(),
		User:   strconv.FormatInt(p.UserID, 10),
		Hash:   p.Session,
	})
	if err != nil {
		return loginNone, err
	}
	if r.GetValid() {
		return loginHash, nil
	}
	return loginNone, nil
}

// verifyJWT accepts an HS256 token signed with token_secret (what
// `switchboard gentoken` mints) or with token_secret followed by the decimal
// dev id (how comet-server backends mint them), with an `exp` in the future
// (required, with the shared leeway) and a numeric `user_id` or a `sub` equal to userID.
func (a authenticator) verifyJWT(tok string, userID, devID int64) bool {
	if len(a.secret) == 0 {
		return false
	}
	withDev := append(append([]byte{}, a.secret...), strconv.FormatInt(devID, 10)...)
	c, err := token.Verify(tok, a.secret, withDev)
	if err != nil {
		return false
	}
	want := strconv.FormatInt(userID, 10)
	// comet-server's claim is a number (the string "5" does not match);
	// `sub` is a string by the JWT spec, and a number is accepted too.
	return c.UserID == want || (isDigits(c.Subject) && c.Subject == want)
}
