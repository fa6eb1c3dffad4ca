package token_test

import (
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/switchboard-hub/switchboard/internal/token"
)

var secret = []byte("s3cret")

func sign(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerify(t *testing.T) {
	now := time.Now()
	exp := now.Add(time.Hour).Unix()
	none := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, jwt.MapClaims{"sub": "42", "exp": exp})
	cases := []struct {
		name    string
		tok     string
		keys    [][]byte
		user    string
		wantErr error
		userID  string
		subject string
	}{
		{name: "sub", tok: sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "42", "exp": exp}), keys: [][]byte{secret}, user: "42", subject: "42"},
		{name: "numeric sub", tok: sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": 42, "exp": exp}), keys: [][]byte{secret}, user: "42", subject: "42"},
		{name: "comet user_id", tok: sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"user_id": 7, "exp": exp}), keys: [][]byte{secret}, user: "7", userID: "7"},
		{name: "string user_id is not a user", tok: sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"user_id": "7", "exp": exp}), keys: [][]byte{secret}, wantErr: token.ErrNoSubject},
		{name: "second key", tok: sign(t, jwt.SigningMethodHS256, []byte("s3cret0"), jwt.MapClaims{"sub": "1", "exp": exp}), keys: [][]byte{secret, []byte("s3cret0")}, user: "1", subject: "1"},
		{name: "wrong key", tok: sign(t, jwt.SigningMethodHS256, []byte("other"), jwt.MapClaims{"sub": "42", "exp": exp}), keys: [][]byte{secret}, wantErr: token.ErrInvalid},
		{name: "no exp", tok: sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "42"}), keys: [][]byte{secret}, wantErr: token.ErrInvalid},
		{name: "expired past leeway", tok: sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "42", "exp": now.Add(-token.Leeway - 2*time.Second).Unix()}), keys: [][]byte{secret}, wantErr: token.ErrInvalid},
		{name: "expired within leeway", tok: sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "42", "exp": now.Add(-time.Second).Unix()}), keys: [][]byte{secret}, user: "42", subject: "42"},
		{name: "alg none", tok: none, keys: [][]byte{secret}, wantErr: token.ErrInvalid},
		{name: "HS512", tok: sign(t, jwt.SigningMethodHS512, secret, jwt.MapClaims{"sub": "42", "exp": exp}), keys: [][]byte{secret}, wantErr: token.ErrInvalid},
		{name: "no subject", tok: sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"exp": exp}), keys: [][]byte{secret}, wantErr: token.ErrNoSubject},
		{name: "no secret", tok: sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "42", "exp": exp}), keys: [][]byte{nil}, wantErr: token.ErrNoSecret},
		{name: "garbage", tok: "a.b.c", keys: [][]byte{secret}, wantErr: token.ErrInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := token.Verify(c.tok, c.keys...)
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("err = %v, want %v", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.User() != c.user || got.UserID != c.userID || got.Subject != c.subject {
				t.Fatalf("claims %+v, want user %q subject %q user_id %q", got, c.user, c.subject, c.userID)
			}
		})
	}
}

func TestMintVerifies(t *testing.T) {
	tok, err := token.Mint(secret, "42", time.Minute, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c, err := token.Verify(tok, secret)
	if err != nil || c.User() != "42" || time.Until(c.ExpiresAt) > time.Minute {
		t.Fatalf("%+v %v", c, err)
	}
	if _, err := token.Mint(nil, "42", time.Minute, time.Now()); !errors.Is(err, token.ErrNoSecret) {
		t.Fatalf("mint without secret: %v", err)
	}
}
