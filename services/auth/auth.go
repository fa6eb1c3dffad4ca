// Package auth decides who is calling the gRPC services. There are two kinds
// of callers: trusted backends and bridges (an API key, or anyone when the API
// is insecure) that may call everything and act for any user, and end users
// with an HS256 JWT (`sub` = user id) who may only read: subscribe, history
// and presence, as themselves.
package auth

import (
	"context"
	"crypto/subtle"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/switchboard-hub/switchboard/internal/token"
)

// Identity is who made a call.
type Identity struct {
	Trusted bool   // backend or bridge: every RPC, any user
	User    string // end user from a JWT; empty for trusted callers
	Face    string // "grpc" or "rest" (set by the gateway)
}

// Config holds the secrets calls are checked against.
type Config struct {
	APIKeys     []string // any of them makes a caller trusted (api_secret, the in-process key)
	Insecure    bool     // calls without credentials are trusted
	TokenSecret []byte   // HS256 key for end-user JWTs; nil disables JWT callers
}

// userMethods are the RPCs an end user may call with a JWT.
var userMethods = map[string]bool{
	"/switchboard.v1.HubService/Subscribe":     true,
	"/switchboard.v1.HubService/History":       true,
	"/switchboard.v1.HubService/Presence":      true,
	"/switchboard.v1.HubService/PresenceStats": true,
}

type ctxKey struct{}

// FromContext returns the caller's identity; the zero Identity (untrusted,
// anonymous) when the interceptors did not run.
func FromContext(ctx context.Context) Identity {
	id, _ := ctx.Value(ctxKey{}).(Identity)
	return id
}

// WithIdentity returns ctx carrying id (for in-package tests and callers that
// bypass the interceptors on purpose).
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// Authenticate checks the credentials in ctx for method.
func (c Config) Authenticate(ctx context.Context, method string) (Identity, error) {
	// Two keys read, not the whole metadata copied: this runs on every call.
	face := "grpc"
	if v := metadata.ValueFromIncomingContext(ctx, token.FaceKey); len(v) > 0 && v[0] == "rest" {
		face = "rest"
	}
	var header string
	if v := metadata.ValueFromIncomingContext(ctx, token.AuthorizationKey); len(v) > 0 {
		header = v[0]
	}
	if header == "" {
		if c.Insecure {
			return Identity{Trusted: true, Face: face}, nil
		}
		return Identity{}, status.Error(codes.Unauthenticated, "missing credentials: send \"authorization: apikey <api_secret>\" or \"authorization: bearer <token>\"")
	}
	scheme, cred, _ := strings.Cut(header, " ")
	cred = strings.TrimSpace(cred)
	switch strings.ToLower(scheme) {
	case "apikey":
		for _, k := range c.APIKeys {
			if k != "" && subtle.ConstantTimeCompare([]byte(k), []byte(cred)) == 1 {
				return Identity{Trusted: true, Face: face}, nil
			}
		}
		return Identity{}, status.Error(codes.Unauthenticated, "invalid api key")
	case "bearer":
		user, err := c.VerifyToken(cred)
		if err != nil {
			return Identity{}, status.Error(codes.Unauthenticated, err.Error())
		}
		if !userMethods[method] {
			return Identity{}, status.Errorf(codes.PermissionDenied, "%s needs an api key; a user token may only subscribe and read history and presence", method)
		}
		return Identity{User: user, Face: face}, nil
	default:
		return Identity{}, status.Errorf(codes.Unauthenticated, "unknown authorization scheme %q: use apikey or bearer", scheme)
	}
}

// VerifyToken checks an end user's token (see package token) and returns the
// user id.
func (c Config) VerifyToken(tok string) (string, error) {
	return token.VerifyUser(tok, c.TokenSecret)
}

// UnaryInterceptor authenticates unary calls.
func (c Config) UnaryInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if skip(info.FullMethod) {
			return h(ctx, req)
		}
		id, err := c.Authenticate(ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		return h(WithIdentity(ctx, id), req)
	}
}

// StreamInterceptor authenticates streaming calls.
func (c Config) StreamInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		if skip(info.FullMethod) {
			return h(srv, ss)
		}
		id, err := c.Authenticate(ss.Context(), info.FullMethod)
		if err != nil {
			return err
		}
		return h(srv, &identityStream{ServerStream: ss, ctx: WithIdentity(ss.Context(), id)})
	}
}

// skip lets health checks and reflection through without credentials.
func skip(method string) bool {
	return strings.HasPrefix(method, "/grpc.health.v1.") || strings.HasPrefix(method, "/grpc.reflection.")
}

type identityStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *identityStream) Context() context.Context { return s.ctx }

// APIKey is per-RPC credentials that send "authorization: apikey KEY"; the
// bridges use it on their connection to the core.
type APIKey string

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (k APIKey) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	if k == "" {
		return nil, nil
	}
	return map[string]string{token.AuthorizationKey: "apikey " + string(k)}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials: the key
// also travels over plain loopback and in-memory connections.
func (APIKey) RequireTransportSecurity() bool { return false }

// Bearer is per-RPC credentials that send "authorization: bearer TOKEN", for
// end-user clients with a JWT.
type Bearer string

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (b Bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{token.AuthorizationKey: "bearer " + string(b)}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials.
func (Bearer) RequireTransportSecurity() bool { return false }
