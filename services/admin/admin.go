package admin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/streamable"
	"github.com/switchboard-hub/switchboard/services/auth"
	"github.com/switchboard-hub/switchboard/services/engine"
)

// DefaultSessionTTL is how long a session key lives when Options.SessionTTL
// is 0.
const DefaultSessionTTL = time.Hour

// Account is one administrator (config `admins`).
type Account struct {
	Username string
	// Password is the plain password or a bcrypt hash ($2a$, $2b$, $2y$).
	Password string
	// TOTPSecret is the base32 RFC 6238 secret; when set, a password alone
	// is not enough (ERR_TOTP_REQUIRED).
	TOTPSecret string
}

// Options configure the service.
type Options struct {
	Accounts []Account
	// Store keeps session keys and used TOTP codes (the engine).
	Store engine.AdminSessions
	// Hub is a trusted client of the core; StreamEvents subscribes through it.
	Hub pb.HubServiceClient
	// Publish puts an event on a reserved sys: channel (hub.PublishSystem).
	Publish func(ctx context.Context, ev *pb.Event) error
	// SessionTTL is the life of a session key (0: DefaultSessionTTL).
	SessionTTL time.Duration
	// Limits on failed logins (0: the defaults in limit.go).
	Limits Limits
	// Version and Node fill SEVT_META_HELLO.
	Version string
	Node    string
	Logger  *slog.Logger
	// Now is the clock (nil: time.Now); tests move it for TOTP.
	Now func() time.Time
}

// Server implements pb.AdminServiceServer.
type Server struct {
	pb.UnimplementedAdminServiceServer
	opts    Options
	log     *slog.Logger
	fails   *failures
	started time.Time
}

// New returns the service.
func New(opts Options) *Server {
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = DefaultSessionTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Server{
		opts:    opts,
		log:     opts.Logger.With("service", "admin"),
		fails:   newFailures(opts.Limits),
		started: opts.Now(),
	}
}

// trusted refuses callers without an api key: administrators' credentials
// travel inside the requests of a trusted face or service.
func trusted(ctx context.Context) error {
	if !auth.FromContext(ctx).Trusted {
		return status.Error(codes.PermissionDenied, "AdminService needs an api key")
	}
	return nil
}

// Authenticate implements pb.AdminServiceServer.
func (s *Server) Authenticate(ctx context.Context, req *pb.AuthenticateRequest) (*pb.AuthenticateResponse, error) {
	if err := trusted(ctx); err != nil {
		return nil, err
	}
	user, err := s.verify(ctx, req.GetCredentials())
	if err != nil {
		return nil, err
	}
	return &pb.AuthenticateResponse{Username: user}, nil
}

// StartSession implements pb.AdminServiceServer.
func (s *Server) StartSession(ctx context.Context, req *pb.StartSessionRequest) (*pb.StartSessionResponse, error) {
	if err := trusted(ctx); err != nil {
		return nil, err
	}
	user, err := s.verify(ctx, req.GetCredentials())
	if err != nil {
		return nil, err
	}
	key := newSessionKey()
	now := s.opts.Now()
	sess := engine.AdminSession{Username: user, Created: now, Expires: now.Add(s.opts.SessionTTL)}
	if err := s.opts.Store.PutAdminSession(ctx, keyID(key), sess); err != nil {
		return nil, s.internal("store session key", err)
	}
	s.event(ctx, streamable.AdminSessionStart, user, req.GetCredentials().GetResource(), sessionData(sess))
	return &pb.StartSessionResponse{SessionKey: key, Username: user, ExpireTime: timestamppb.New(sess.Expires)}, nil
}

// RevokeSession implements pb.AdminServiceServer.
func (s *Server) RevokeSession(ctx context.Context, req *pb.RevokeSessionRequest) (*pb.RevokeSessionResponse, error) {
	if err := trusted(ctx); err != nil {
		return nil, err
	}
	if req.GetSessionKey() == "" {
		return nil, status.Error(codes.InvalidArgument, "session_key is required")
	}
	id := keyID(req.GetSessionKey())
	sess, ok, err := s.opts.Store.AdminSession(ctx, id)
	if err != nil {
		return nil, s.internal("read session key", err)
	}
	if !ok {
		return &pb.RevokeSessionResponse{}, nil
	}
	gone, err := s.opts.Store.DeleteAdminSession(ctx, id)
	if err != nil {
		return nil, s.internal("revoke session key", err)
	}
	if gone {
		s.event(ctx, streamable.AdminSessionRevoke, sess.Username, "", sessionData(sess))
	}
	return &pb.RevokeSessionResponse{Revoked: gone}, nil
}

// ValidateSession implements pb.AdminServiceServer.
func (s *Server) ValidateSession(ctx context.Context, req *pb.ValidateSessionRequest) (*pb.ValidateSessionResponse, error) {
	if err := trusted(ctx); err != nil {
		return nil, err
	}
	if req.GetSessionKey() == "" {
		return nil, status.Error(codes.InvalidArgument, "session_key is required")
	}
	sess, ok, err := s.opts.Store.AdminSession(ctx, keyID(req.GetSessionKey()))
	if err != nil {
		return nil, s.internal("read session key", err)
	}
	if !ok {
		return nil, status.Error(codes.NotFound, "session key unknown, expired or revoked")
	}
	return &pb.ValidateSessionResponse{Username: sess.Username, ExpireTime: timestamppb.New(sess.Expires)}, nil
}

// newSessionKey is 32 random bytes in hex.
func newSessionKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// keyID is what the engine stores a key under: its SHA-256, so that a
// reader of the store cannot log in with what it reads.
func keyID(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

func sessionData(s engine.AdminSession) any {
	return map[string]any{"Username": s.Username, "Created": s.Created.Unix(), "Expires": s.Expires.Unix()}
}

// event publishes an administrator event on sys:admin. A failure is only
// logged: the login itself has been decided.
func (s *Server) event(ctx context.Context, t streamable.Type, actor, resource string, data any) {
	if s.opts.Publish == nil {
		return
	}
	b, err := json.Marshal(data)
	if err != nil {
		b = []byte("null")
	}
	ev := &pb.Event{
		Channel:   streamable.ChannelAdmin,
		Name:      t.String(),
		Key:       resource,
		Code:      int32(t),
		Data:      string(b),
		Publisher: &pb.Publisher{User: actor},
		Time:      timestamppb.New(s.opts.Now()),
	}
	if err := s.opts.Publish(context.WithoutCancel(ctx), ev); err != nil {
		s.log.Warn("admin event not published", "type", t.String(), "err", err)
	}
}

func (s *Server) internal(what string, err error) error {
	switch {
	case errors.Is(err, engine.ErrClosed):
		return status.Error(codes.Unavailable, "shutting down")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return status.FromContextError(err).Err()
	}
	s.log.Error("admin: "+what, "err", err)
	return status.Error(codes.Internal, "internal error")
}
