package admin

import (
	"context"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/services/auth"
	"github.com/switchboard-hub/switchboard/services/engine/memory"
)

// TOTP codes are accepted one 30 s step either side of the server's clock,
// and once only.
func TestTOTPWindow(t *testing.T) {
	const secret = "JBSWY3DPEHPK3PXP"
	now := time.Date(2026, 12, 2, 12, 0, 15, 0, time.UTC)
	eng := memory.New(memory.Options{})
	t.Cleanup(func() { eng.Close() })
	s := New(Options{
		Accounts: []Account{{Username: "a", Password: "pw", TOTPSecret: secret}},
		Store:    eng,
		Limits:   Limits{PerAccount: 100, PerAddress: 100},
		Now:      func() time.Time { return now },
	})
	ctx := auth.WithIdentity(context.Background(), auth.Identity{Trusted: true})
	try := func(at time.Time) codes.Code {
		code, err := totp.GenerateCode(secret, at)
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Authenticate(ctx, &pb.AuthenticateRequest{Credentials: &pb.AdminCredentials{
			Username: "a", AuthType: pb.AdminAuthType_ADMIN_AUTH_TYPE_PASSWORD_TOTP, Password: "pw", Totp: code,
		}})
		return status.Code(err)
	}
	for _, tc := range []struct {
		name string
		at   time.Time
		want codes.Code
	}{
		{"current step", now, codes.OK},
		{"current step again", now, codes.Unauthenticated},
		{"previous step", now.Add(-30 * time.Second), codes.OK},
		{"next step", now.Add(30 * time.Second), codes.OK},
		{"two steps old", now.Add(-60 * time.Second), codes.Unauthenticated},
		{"two steps ahead", now.Add(60 * time.Second), codes.Unauthenticated},
	} {
		if got := try(tc.at); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	// Untrusted callers are refused before any check.
	if _, err := s.Authenticate(context.Background(), &pb.AuthenticateRequest{}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("untrusted caller: %v", err)
	}
}
