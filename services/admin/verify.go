package admin

import (
	"context"
	"crypto/subtle"
	"errors"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/streamable"
)

// ReasonTOTPRequired is the ErrorInfo reason of the FAILED_PRECONDITION
// answered to a right password of an account that also needs a TOTP code
// (Comet answers HTTP 449 with X-Comet-TOTP-Requested: 1).
const ReasonTOTPRequired = "TOTP_REQUIRED"

// ErrorDomain is the ErrorInfo domain of this service's errors.
const ErrorDomain = "switchboard.admin"

// TOTP parameters: RFC 6238 defaults as authenticator apps use them (30 s
// steps, 6 digits, SHA-1), one step of clock skew either way.
const (
	totpPeriod = 30
	totpSkew   = 1
	// codeTTL is how long a used code is remembered: longer than any
	// window in which it is still valid.
	codeTTL = 2 * (totpSkew + 1) * totpPeriod * time.Second
)

// Reasons a login failed; logged, never shown to the client.
var (
	errNoAccount   = errors.New("unknown account")
	errPassword    = errors.New("wrong password")
	errSessionKey  = errors.New("session key unknown, expired, revoked or of another account")
	errNoTOTP      = errors.New("the account has no TOTP secret")
	errTOTPCode    = errors.New("wrong TOTP code")
	errTOTPReplay  = errors.New("TOTP code already used")
	errEmptySecret = errors.New("no credential given")
)

// verify checks credentials and returns the account name, or the status to
// answer.
func (s *Server) verify(ctx context.Context, c *pb.AdminCredentials) (string, error) {
	if c == nil {
		return "", status.Error(codes.InvalidArgument, "credentials are required")
	}
	now := s.opts.Now()
	if s.fails.blocked(now, c.GetUsername(), c.GetAddress()) {
		s.log.Warn("admin login refused: too many failures", "user", clip(c.GetUsername()), "address", c.GetAddress())
		return "", status.Error(codes.ResourceExhausted, "too many failed logins; try again later")
	}
	switch c.GetAuthType() {
	case pb.AdminAuthType_ADMIN_AUTH_TYPE_SESSION_KEY:
		return s.verifySessionKey(ctx, c)
	case pb.AdminAuthType_ADMIN_AUTH_TYPE_PASSWORD, pb.AdminAuthType_ADMIN_AUTH_TYPE_PASSWORD_TOTP:
		return s.verifyPassword(ctx, c, now)
	case pb.AdminAuthType_ADMIN_AUTH_TYPE_PASSWORD_U2F:
		return "", status.Error(codes.Unimplemented, "PasswordU2F is not supported: use PasswordTOTP")
	default:
		return "", status.Error(codes.InvalidArgument, "auth_type is required: Password, SessionKey or PasswordTOTP")
	}
}

func (s *Server) verifySessionKey(ctx context.Context, c *pb.AdminCredentials) (string, error) {
	if c.GetSessionKey() == "" {
		return "", s.fail(ctx, c, nil, errEmptySecret)
	}
	sess, ok, err := s.opts.Store.AdminSession(ctx, keyID(c.GetSessionKey()))
	if err != nil {
		return "", s.internal("read session key", err)
	}
	if !ok || (c.GetUsername() != "" && c.GetUsername() != sess.Username) {
		return "", s.fail(ctx, c, s.find(c.GetUsername()), errSessionKey)
	}
	// No login event: Comet raises them for non-session requests only.
	return sess.Username, nil
}

func (s *Server) verifyPassword(ctx context.Context, c *pb.AdminCredentials, now time.Time) (string, error) {
	acc := s.find(c.GetUsername())
	if acc == nil {
		return "", s.fail(ctx, c, nil, errNoAccount)
	}
	if !PasswordMatches(acc.Password, c.GetPassword()) {
		return "", s.fail(ctx, c, acc, errPassword)
	}
	if c.GetAuthType() == pb.AdminAuthType_ADMIN_AUTH_TYPE_PASSWORD {
		if acc.TOTPSecret != "" {
			st := status.New(codes.FailedPrecondition, "ERR_TOTP_REQUIRED: this account needs a TOTP code (AuthType PasswordTOTP)")
			if d, err := st.WithDetails(&errdetails.ErrorInfo{Reason: ReasonTOTPRequired, Domain: ErrorDomain}); err == nil {
				st = d
			}
			return "", st.Err()
		}
	} else {
		if acc.TOTPSecret == "" {
			return "", s.fail(ctx, c, acc, errNoTOTP)
		}
		ok, err := totp.ValidateCustom(c.GetTotp(), acc.TOTPSecret, now.UTC(), totp.ValidateOpts{
			Period: totpPeriod, Skew: totpSkew, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
		})
		if err != nil || !ok {
			return "", s.fail(ctx, c, acc, errTOTPCode)
		}
		first, err := s.opts.Store.UseTOTPCode(ctx, acc.Username, c.GetTotp(), codeTTL)
		if err != nil {
			return "", s.internal("record TOTP code", err)
		}
		if !first {
			return "", s.fail(ctx, c, acc, errTOTPReplay)
		}
	}
	s.event(ctx, streamable.AdminLogin, acc.Username, c.GetResource(), loginData(c, ""))
	return acc.Username, nil
}

// fail counts, logs and announces a failed login and returns the status to
// answer. The event is raised only for an existing account, as Comet does.
func (s *Server) fail(ctx context.Context, c *pb.AdminCredentials, acc *Account, reason error) error {
	s.fails.record(s.opts.Now(), c.GetUsername(), c.GetAddress())
	s.log.Warn("admin login failed", "user", clip(c.GetUsername()), "address", c.GetAddress(),
		"auth_type", c.GetAuthType().String(), "resource", clip(c.GetResource()), "reason", reason.Error())
	if acc != nil {
		s.event(ctx, streamable.AdminLoginFailed, acc.Username, c.GetResource(), loginData(c, reason.Error()))
	}
	return status.Error(codes.Unauthenticated, "invalid admin credentials")
}

func loginData(c *pb.AdminCredentials, reason string) any {
	d := map[string]string{"Username": c.GetUsername(), "AuthType": authTypeName(c.GetAuthType()), "RemoteAddress": c.GetAddress()}
	if reason != "" {
		d["Reason"] = reason
	}
	return d
}

// authTypeName is Comet's spelling of an auth type.
func authTypeName(t pb.AdminAuthType) string {
	switch t {
	case pb.AdminAuthType_ADMIN_AUTH_TYPE_PASSWORD:
		return "Password"
	case pb.AdminAuthType_ADMIN_AUTH_TYPE_SESSION_KEY:
		return "SessionKey"
	case pb.AdminAuthType_ADMIN_AUTH_TYPE_PASSWORD_TOTP:
		return "PasswordTOTP"
	case pb.AdminAuthType_ADMIN_AUTH_TYPE_PASSWORD_U2F:
		return "PasswordU2F"
	}
	return ""
}

// find returns the account with this name. Every name is compared, so the
// time taken does not tell which names exist.
func (s *Server) find(user string) *Account {
	var found *Account
	for i := range s.opts.Accounts {
		if subtle.ConstantTimeCompare([]byte(s.opts.Accounts[i].Username), []byte(user)) == 1 && found == nil {
			found = &s.opts.Accounts[i]
		}
	}
	return found
}

// PasswordMatches compares pass with a stored password: bcrypt when the
// stored value is a bcrypt hash, else a constant-time comparison.
func PasswordMatches(stored, pass string) bool {
	if IsBcrypt(stored) {
		return bcrypt.CompareHashAndPassword([]byte(stored), []byte(pass)) == nil
	}
	return subtle.ConstantTimeCompare([]byte(stored), []byte(pass)) == 1
}

// IsBcrypt reports whether a stored password is a bcrypt hash.
func IsBcrypt(s string) bool {
	return strings.HasPrefix(s, "$2a$") || strings.HasPrefix(s, "$2b$") || strings.HasPrefix(s, "$2y$")
}

// clip bounds a client-given string in logs.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
