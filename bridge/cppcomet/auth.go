package cppcomet

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/golang-jwt/jwt/v5"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
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
// (required, no leeway) and a numeric `user_id` or a `sub` equal to userID.
func (a authenticator) verifyJWT(token string, userID, devID int64) bool {
	if len(a.secret) == 0 {
		return false
	}
	withDev := append(append([]byte{}, a.secret...), strconv.FormatInt(devID, 10)...)
	keys := jwt.VerificationKeySet{Keys: []jwt.VerificationKey{a.secret, withDev}}
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithJSONNumber(),
	)
	claims := jwt.MapClaims{}
	if _, err := parser.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return keys, nil }); err != nil {
		return false
	}
	// comet-server's claim is a number: the string "5" does not match.
	if n, ok := claims["user_id"].(json.Number); ok {
		if id, err := n.Int64(); err == nil && id == userID {
			return true
		}
	}
	// `sub` is a string by the JWT spec; a number is accepted too.
	switch sub := claims["sub"].(type) {
	case string:
		id, err := strconv.ParseInt(sub, 10, 64)
		return err == nil && isDigits(sub) && id == userID
	case json.Number:
		id, err := sub.Int64()
		return err == nil && id == userID
	}
	return false
}
