package wsconn

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
)

// The origin rule, the one every websocket face follows (README
// "Websocket origins"). A request is allowed when
//
//  1. it has no Origin header: it is no browser page (a CLI, a daemon, the
//     DRP Go client), and browsers always send one; or
//  2. the Origin's host is the request's Host: a page of this server; or
//  3. the Origin matches one of AcceptOptions.OriginPatterns (allowed_origins):
//     a path.Match pattern of the host, or of "scheme://host" when the
//     pattern has "://"; "*" allows every origin.
//
// A face may narrow the rule with AcceptOptions.OriginFilter (as the comet
// face's cppcomet.origin_allow does); it can never widen it.

// OriginError is a request the origin rule refuses.
type OriginError struct {
	Origin string
	Reason string
}

func (e *OriginError) Error() string {
	return fmt.Sprintf("wsconn: origin %q refused: %s", e.Origin, e.Reason)
}

// ErrOriginRefused matches every *OriginError with errors.Is.
var ErrOriginRefused = errors.New("wsconn: origin refused")

// Is makes errors.Is(err, ErrOriginRefused) true.
func (e *OriginError) Is(target error) bool { return target == ErrOriginRefused }

// CheckOrigin applies the origin rule and the face's narrowing to r.
func CheckOrigin(r *http.Request, opts AcceptOptions) error {
	origin := r.Header.Get("Origin")
	if err := originRule(origin, r.Host, opts.OriginPatterns); err != nil {
		return err
	}
	if opts.OriginFilter != nil && !opts.OriginFilter(origin) {
		return &OriginError{Origin: origin, Reason: "not allowed for this face"}
	}
	return nil
}

func originRule(origin, host string, patterns []string) error {
	if origin == "" || slices.Contains(patterns, "*") {
		return nil
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return &OriginError{Origin: origin, Reason: "not a URL with a host"}
	}
	if strings.EqualFold(u.Host, host) {
		return nil
	}
	for _, p := range patterns {
		target := u.Host
		if strings.Contains(p, "://") {
			target = u.Scheme + "://" + u.Host
		}
		if ok, err := path.Match(strings.ToLower(p), strings.ToLower(target)); err == nil && ok {
			return nil
		}
	}
	return &OriginError{Origin: origin, Reason: "neither this server's host nor in allowed_origins"}
}
