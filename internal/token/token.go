// Package token is the one implementation of client tokens: HS256 JWTs
// signed with token_secret, whose subject is the user id. The core's
// interceptors, every face that logs users in and `switchboard gentoken` use
// it, so a token is accepted or refused the same way everywhere.
//
// It also names the gRPC metadata keys by which credentials and the calling
// face travel from a bridge to the core.
package token

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Metadata keys of calls into the core.
const (
	// AuthorizationKey carries "apikey <api_secret>" or "bearer <token>".
	AuthorizationKey = "authorization"
	// FaceKey names the face a call came through ("rest" from the gateway),
	// so that sessions opened through it are shown as that face.
	FaceKey = "x-switchboard-face"
)

// Leeway is how far a token's exp and nbf may be off the local clock.
const Leeway = 5 * time.Second

// Errors wrapped by Verify.
var (
	ErrNoSecret  = errors.New("token_secret is not configured")
	ErrInvalid   = errors.New("invalid token")
	ErrNoSubject = errors.New("invalid token: no sub claim")
)

// Claims are what a verified token says.
type Claims struct {
	// Subject is the "sub" claim: the user id. A numeric sub is kept as its
	// decimal text.
	Subject string
	// UserID is comet-server's numeric "user_id" claim in decimal, or empty
	// when the token has none (or it is not an integer).
	UserID    string
	ExpiresAt time.Time
}

// User is the user the token stands for: Subject, else UserID.
func (c Claims) User() string {
	if c.Subject != "" {
		return c.Subject
	}
	return c.UserID
}

// Verify checks tok: HS256 signed with one of keys, exp required and not
// past (with Leeway), and a subject (sub or user_id). Empty keys are
// skipped; with none left it fails with ErrNoSecret.
func Verify(tok string, keys ...[]byte) (Claims, error) {
	set := jwt.VerificationKeySet{}
	for _, k := range keys {
		if len(k) > 0 {
			set.Keys = append(set.Keys, k)
		}
	}
	if len(set.Keys) == 0 {
		return Claims{}, ErrNoSecret
	}
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(Leeway),
		jwt.WithJSONNumber(),
	)
	mc := jwt.MapClaims{}
	if _, err := parser.ParseWithClaims(tok, mc, func(*jwt.Token) (any, error) { return set, nil }); err != nil {
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	var c Claims
	switch sub := mc["sub"].(type) {
	case string:
		c.Subject = sub
	case json.Number:
		if n, err := sub.Int64(); err == nil {
			c.Subject = strconv.FormatInt(n, 10)
		}
	}
	if n, ok := mc["user_id"].(json.Number); ok {
		if id, err := n.Int64(); err == nil {
			c.UserID = strconv.FormatInt(id, 10)
		}
	}
	if exp, err := mc.GetExpirationTime(); err == nil && exp != nil {
		c.ExpiresAt = exp.Time
	}
	if c.User() == "" {
		return Claims{}, ErrNoSubject
	}
	return c, nil
}

// VerifyUser is Verify for callers that only need the user id.
func VerifyUser(tok string, keys ...[]byte) (string, error) {
	c, err := Verify(tok, keys...)
	return c.User(), err
}

// Mint signs an HS256 token for user, valid for ttl from now.
func Mint(secret []byte, user string, ttl time.Duration, now time.Time) (string, error) {
	if len(secret) == 0 {
		return "", ErrNoSecret
	}
	if user == "" {
		return "", errors.New("token: empty user")
	}
	claims := jwt.RegisteredClaims{
		Subject:   user,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
}
