package user_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/services/engine"
	"github.com/switchboard-hub/switchboard/services/engine/memory"
	"github.com/switchboard-hub/switchboard/services/user"
)

// counter is a SessionCounter the test sets by hand.
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) set(tenant, u string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[tenant+"/"+u] = n
}

func (c *counter) UserSessions(_ context.Context, tenant, u string) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[tenant+"/"+u], nil
}

// records is a fresh memory engine, where the service keeps its records.
func records(t *testing.T) engine.UserRecords {
	e := memory.New(memory.Options{})
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// start serves a UserService over real gRPC on a loopback port.
func start(t *testing.T, store engine.UserRecords, now func() time.Time) (pb.UserServiceClient, *counter) {
	t.Helper()
	sessions := &counter{n: map[string]int{}}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	pb.RegisterUserServiceServer(srv, user.NewServer(store, sessions, user.Options{Now: now}))
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return pb.NewUserServiceClient(conn), sessions
}

func TestAuthHash(t *testing.T) {
	c, _ := start(t, records(t), nil)
	ctx := t.Context()
	if _, err := c.SetAuthHash(ctx, &pb.SetAuthHashRequest{Tenant: "1", User: "5", Hash: "auth_hash1"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name         string
		tenant, hash string
		want         bool
	}{
		{"stored hash", "1", "auth_hash1", true},
		{"wrong hash", "1", "auth_hash2", false},
		{"prefix of hash", "1", "auth_hash", false},
		{"empty hash", "1", "", false},
		{"other tenant", "", "auth_hash1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := c.CheckAuthHash(ctx, &pb.CheckAuthHashRequest{Tenant: tt.tenant, User: "5", Hash: tt.hash})
			if err != nil {
				t.Fatal(err)
			}
			if r.GetValid() != tt.want {
				t.Fatalf("valid = %v, want %v", r.GetValid(), tt.want)
			}
		})
	}
	if _, err := c.SetAuthHash(ctx, &pb.SetAuthHashRequest{Tenant: "1", User: "5"}); err != nil {
		t.Fatal(err)
	}
	r, err := c.CheckAuthHash(ctx, &pb.CheckAuthHashRequest{Tenant: "1", User: "5", Hash: "auth_hash1"})
	if err != nil {
		t.Fatal(err)
	}
	if r.GetValid() {
		t.Fatal("deleted hash still valid")
	}
}

func TestIssueAuthHash(t *testing.T) {
	c, _ := start(t, records(t), nil)
	ctx := t.Context()
	first, err := c.IssueAuthHash(ctx, &pb.IssueAuthHashRequest{User: "7"})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.GetHash()) != 32 {
		t.Fatalf("issued hash %q, want 32 characters", first.GetHash())
	}
	again, err := c.IssueAuthHash(ctx, &pb.IssueAuthHashRequest{User: "7"})
	if err != nil {
		t.Fatal(err)
	}
	if again.GetHash() != first.GetHash() {
		t.Fatalf("second issue %q, want the stored %q", again.GetHash(), first.GetHash())
	}
	ok, err := c.CheckAuthHash(ctx, &pb.CheckAuthHashRequest{User: "7", Hash: first.GetHash()})
	if err != nil || !ok.GetValid() {
		t.Fatalf("issued hash not accepted: %v %v", ok, err)
	}
	if _, err := c.SetAuthHash(ctx, &pb.SetAuthHashRequest{User: "8", Hash: "backend"}); err != nil {
		t.Fatal(err)
	}
	set, err := c.IssueAuthHash(ctx, &pb.IssueAuthHashRequest{User: "8"})
	if err != nil {
		t.Fatal(err)
	}
	if set.GetHash() != "backend" {
		t.Fatalf("issue returned %q, want the backend's hash", set.GetHash())
	}
}

func TestUserData(t *testing.T) {
	c, _ := start(t, records(t), nil)
	ctx := t.Context()
	get := func() string {
		t.Helper()
		r, err := c.GetUserData(ctx, &pb.GetUserDataRequest{Tenant: "2", User: "5"})
		if err != nil {
			t.Fatal(err)
		}
		return r.GetData()
	}
	if got := get(); got != "" {
		t.Fatalf("unset data = %q", got)
	}
	if _, err := c.SetUserData(ctx, &pb.SetUserDataRequest{Tenant: "2", User: "5", Data: `{"name":"Ann"}`}); err != nil {
		t.Fatal(err)
	}
	if got := get(); got != `{"name":"Ann"}` {
		t.Fatalf("data = %q", got)
	}
	if _, err := c.SetUserData(ctx, &pb.SetUserDataRequest{Tenant: "2", User: "5"}); err != nil {
		t.Fatal(err)
	}
	if got := get(); got != "" {
		t.Fatalf("deleted data = %q", got)
	}
}

func TestUserStatus(t *testing.T) {
	now := time.Unix(1700000000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	c, sessions := start(t, records(t), clock)
	ctx := t.Context()
	status := func() *pb.UserStatusResponse {
		t.Helper()
		r, err := c.UserStatus(ctx, &pb.UserStatusRequest{Tenant: "3", User: "9"})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := status(); r.GetOnline() || r.GetLastSeen() != nil || r.GetNumSessions() != 0 {
		t.Fatalf("never seen user: %v", r)
	}
	if _, err := c.RecordSeen(ctx, &pb.RecordSeenRequest{Tenant: "3", User: "9"}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	if r := status(); r.GetOnline() || r.GetLastSeen().AsTime().Unix() != 1700000000 {
		t.Fatalf("offline user: %v", r)
	}
	sessions.set("3", "9", 2)
	if r := status(); !r.GetOnline() || r.GetNumSessions() != 2 || r.GetLastSeen().AsTime().Unix() != 1700000060 {
		t.Fatalf("online user: %v", r)
	}
}

func TestValidation(t *testing.T) {
	c, _ := start(t, records(t), nil)
	ctx := t.Context()
	long := strings.Repeat("x", user.MaxIDLen+1)
	tests := []struct {
		name string
		call func() error
	}{
		{"set hash no user", func() error { _, err := c.SetAuthHash(ctx, &pb.SetAuthHashRequest{Hash: "h"}); return err }},
		{"set hash too long", func() error {
			_, err := c.SetAuthHash(ctx, &pb.SetAuthHashRequest{User: "1", Hash: strings.Repeat("h", user.MaxAuthHashLen+1)})
			return err
		}},
		{"check hash long user", func() error {
			_, err := c.CheckAuthHash(ctx, &pb.CheckAuthHashRequest{User: long, Hash: "h"})
			return err
		}},
		{"issue long tenant", func() error {
			_, err := c.IssueAuthHash(ctx, &pb.IssueAuthHashRequest{Tenant: long, User: "1"})
			return err
		}},
		{"set data too long", func() error {
			_, err := c.SetUserData(ctx, &pb.SetUserDataRequest{User: "1", Data: strings.Repeat("d", user.MaxUserDataLen+1)})
			return err
		}},
		{"get data no user", func() error { _, err := c.GetUserData(ctx, &pb.GetUserDataRequest{}); return err }},
		{"seen no user", func() error { _, err := c.RecordSeen(ctx, &pb.RecordSeenRequest{}); return err }},
		{"status no user", func() error { _, err := c.UserStatus(ctx, &pb.UserStatusRequest{}); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code := status.Code(tt.call()); code != codes.InvalidArgument {
				t.Fatalf("code = %v, want InvalidArgument", code)
			}
		})
	}
}

// brokenStore fails every call, as an unreachable Redis would.
type brokenStore struct{ engine.UserRecords }

var errDown = errors.New("redis: connection refused 10.0.0.1:6379")

func (brokenStore) UserData(context.Context, string, string) (string, error) { return "", errDown }

func TestInternalErrorsHideDetails(t *testing.T) {
	c, _ := start(t, brokenStore{}, nil)
	_, err := c.GetUserData(t.Context(), &pb.GetUserDataRequest{User: "1"})
	st := status.Convert(err)
	if st.Code() != codes.Internal || strings.Contains(st.Message(), "redis") {
		t.Fatalf("status = %v %q, want Internal without details", st.Code(), st.Message())
	}
}
