package gateway

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/switchboard-hub/switchboard/internal/token"
)

// guard runs before the mux: it refuses a request whose credentials are
// missing or wrong before a byte of its body is read, then reads the body
// up to Options.MaxBodyBytes and refuses a larger one with 413. The core
// authenticates the call again (and decides what a user token may do); the
// guard only keeps an unauthenticated or oversized body from costing
// memory.
type guard struct {
	next http.Handler
	mux  *runtime.ServeMux
	opts Options
}

func (g *guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if msg := g.refuse(r.Header.Get(token.AuthorizationKey)); msg != "" {
		// The body is left unread; net/http closes the connection rather
		// than drain a large one.
		w.Header().Set("Connection", "close")
		writeError(g.mux, w, r, 0, status.New(codes.Unauthenticated, msg))
		return
	}
	limit := g.opts.MaxBodyBytes
	if r.ContentLength > limit {
		tooLarge(g.mux, w, r, limit)
		return
	}
	if r.Body != nil && r.Body != http.NoBody {
		// Read whole here, bounded, so that a body over the bound is a
		// 413 whatever the route (every request body is one message).
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			tooLarge(g.mux, w, r, limit)
			return
		case err != nil:
			writeError(g.mux, w, r, 0, status.New(codes.InvalidArgument, "reading the request body failed"))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	g.next.ServeHTTP(w, r)
}

// refuse checks the Authorization header as the core will (services/auth):
// no header passes only in insecure mode; "apikey" must be the api secret
// (compared in constant time); "bearer" must be a token that verifies. It
// returns the refusal's message, or "" to let the request through.
func (g *guard) refuse(header string) string {
	if header == "" {
		if g.opts.Insecure {
			return ""
		}
		return msgMissingCredentials
	}
	scheme, cred, _ := strings.Cut(header, " ")
	cred = strings.TrimSpace(cred)
	switch strings.ToLower(scheme) {
	case "apikey":
		if g.opts.APIKey != "" && subtle.ConstantTimeCompare([]byte(g.opts.APIKey), []byte(cred)) == 1 {
			return ""
		}
		return msgInvalidAPIKey
	case "bearer":
		if _, err := token.VerifyUser(cred, g.opts.TokenSecret); err != nil {
			return err.Error()
		}
		return ""
	default:
		return msgUnknownScheme
	}
}
