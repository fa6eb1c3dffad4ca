package user

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/services/engine"
)

// Limits on stored values. The hash limit is the longest `sesion` value a
// comet-server URL carries (cppcomet.md §2); the data limit keeps a
// `user_data` reply well inside one comet frame (§1: 65535 bytes).
const (
	MaxIDLen       = 256
	MaxAuthHashLen = 600
	MaxUserDataLen = 16384
)

// Options tune a Server.
type Options struct {
	Logger *slog.Logger
	// Now returns the current time; time.Now when nil.
	Now func() time.Time
}

// Server implements pb.UserServiceServer over the engine's user records
// and the core's session counts.
type Server struct {
	pb.UnimplementedUserServiceServer
	store    engine.UserRecords
	sessions SessionCounter
	log      *slog.Logger
	now      func() time.Time
}

// NewServer returns a UserService keeping its records in store (the
// engine), with online state taken from sessions.
func NewServer(store engine.UserRecords, sessions SessionCounter, opts Options) *Server {
	s := &Server{store: store, sessions: sessions, log: opts.Logger, now: opts.Now}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

var _ pb.UserServiceServer = (*Server)(nil)

// checkUser validates the tenant and user every request names.
func checkUser(tenant, user string) error {
	switch {
	case user == "":
		return invalid("user is required")
	case len(user) > MaxIDLen:
		return invalid("user is longer than %d bytes", MaxIDLen)
	case len(tenant) > MaxIDLen:
		return invalid("tenant is longer than %d bytes", MaxIDLen)
	}
	return nil
}

// SetAuthHash implements pb.UserServiceServer.
func (s *Server) SetAuthHash(ctx context.Context, req *pb.SetAuthHashRequest) (*pb.SetAuthHashResponse, error) {
	err := checkUser(req.GetTenant(), req.GetUser())
	if err == nil && len(req.GetHash()) > MaxAuthHashLen {
		err = invalid("hash is longer than %d bytes", MaxAuthHashLen)
	}
	if err == nil {
		err = s.store.SetAuthHash(ctx, req.GetTenant(), req.GetUser(), req.GetHash())
	}
	if err != nil {
		return nil, toStatus(ctx, s.log, "SetAuthHash", err)
	}
	return &pb.SetAuthHashResponse{}, nil
}

// CheckAuthHash implements pb.UserServiceServer.
func (s *Server) CheckAuthHash(ctx context.Context, req *pb.CheckAuthHashRequest) (*pb.CheckAuthHashResponse, error) {
	if err := checkUser(req.GetTenant(), req.GetUser()); err != nil {
		return nil, toStatus(ctx, s.log, "CheckAuthHash", err)
	}
	if req.GetHash() == "" || len(req.GetHash()) > MaxAuthHashLen {
		return &pb.CheckAuthHashResponse{}, nil
	}
	stored, err := s.store.AuthHash(ctx, req.GetTenant(), req.GetUser())
	if err != nil {
		return nil, toStatus(ctx, s.log, "CheckAuthHash", err)
	}
	// Constant time: the hash is a credential.
	valid := stored != "" && subtle.ConstantTimeCompare([]byte(stored), []byte(req.GetHash())) == 1
	return &pb.CheckAuthHashResponse{Valid: valid}, nil
}

// IssueAuthHash implements pb.UserServiceServer.
func (s *Server) IssueAuthHash(ctx context.Context, req *pb.IssueAuthHashRequest) (*pb.IssueAuthHashResponse, error) {
	if err := checkUser(req.GetTenant(), req.GetUser()); err != nil {
		return nil, toStatus(ctx, s.log, "IssueAuthHash", err)
	}
	candidate, err := newHash()
	if err == nil {
		candidate, err = s.store.AddAuthHash(ctx, req.GetTenant(), req.GetUser(), candidate)
	}
	if err != nil {
		return nil, toStatus(ctx, s.log, "IssueAuthHash", err)
	}
	return &pb.IssueAuthHashResponse{Hash: candidate}, nil
}

// newHash returns 32 random hex characters (the length of comet-server's
// own hashes).
func newHash() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random hash: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// SetUserData implements pb.UserServiceServer.
func (s *Server) SetUserData(ctx context.Context, req *pb.SetUserDataRequest) (*pb.SetUserDataResponse, error) {
	err := checkUser(req.GetTenant(), req.GetUser())
	if err == nil && len(req.GetData()) > MaxUserDataLen {
		err = invalid("data is longer than %d bytes", MaxUserDataLen)
	}
	if err == nil {
		err = s.store.SetUserData(ctx, req.GetTenant(), req.GetUser(), req.GetData())
	}
	if err != nil {
		return nil, toStatus(ctx, s.log, "SetUserData", err)
	}
	return &pb.SetUserDataResponse{}, nil
}

// GetUserData implements pb.UserServiceServer.
func (s *Server) GetUserData(ctx context.Context, req *pb.GetUserDataRequest) (*pb.GetUserDataResponse, error) {
	err := checkUser(req.GetTenant(), req.GetUser())
	var data string
	if err == nil {
		data, err = s.store.UserData(ctx, req.GetTenant(), req.GetUser())
	}
	if err != nil {
		return nil, toStatus(ctx, s.log, "GetUserData", err)
	}
	return &pb.GetUserDataResponse{Data: data}, nil
}

// RecordSeen implements pb.UserServiceServer.
func (s *Server) RecordSeen(ctx context.Context, req *pb.RecordSeenRequest) (*pb.RecordSeenResponse, error) {
	err := checkUser(req.GetTenant(), req.GetUser())
	if err == nil {
		err = s.store.SetLastSeen(ctx, req.GetTenant(), req.GetUser(), s.now())
	}
	if err != nil {
		return nil, toStatus(ctx, s.log, "RecordSeen", err)
	}
	return &pb.RecordSeenResponse{}, nil
}

// UserStatus implements pb.UserServiceServer.
func (s *Server) UserStatus(ctx context.Context, req *pb.UserStatusRequest) (*pb.UserStatusResponse, error) {
	if err := checkUser(req.GetTenant(), req.GetUser()); err != nil {
		return nil, toStatus(ctx, s.log, "UserStatus", err)
	}
	n, err := s.sessions.UserSessions(ctx, req.GetTenant(), req.GetUser())
	if err != nil {
		return nil, toStatus(ctx, s.log, "UserStatus", fmt.Errorf("count sessions: %w", err))
	}
	resp := &pb.UserStatusResponse{Online: n > 0, NumSessions: uint32(max(n, 0))}
	if resp.Online {
		resp.LastSeen = timestamppb.New(s.now())
		return resp, nil
	}
	seen, ok, err := s.store.LastSeen(ctx, req.GetTenant(), req.GetUser())
	if err != nil {
		return nil, toStatus(ctx, s.log, "UserStatus", err)
	}
	if ok {
		resp.LastSeen = timestamppb.New(seen)
	}
	return resp, nil
}
