package redistest

import (
	"context"
	"net"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/rueidis"
)

// Server is a throw-away redis-server of one test, on its own free
// loopback port, without persistence, that the test may kill and restart.
type Server struct {
	Addr string
	t    testing.TB
	bin  string
	cmd  *exec.Cmd
}

// Start runs a private redis-server (skipping the test when none is
// installed) and kills it when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed (apt-get install redis-server); this test starts, kills and restarts its own")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: l.Addr().String(), t: t, bin: bin}
	l.Close()
	s.Restart()
	t.Cleanup(s.Kill)
	return s
}

// Kill ends the server with SIGKILL: everything it held is gone. A frozen
// server is resumed first, so that it can die.
func (s *Server) Kill() {
	if s.cmd != nil {
		_ = s.cmd.Process.Signal(syscall.SIGCONT)
		s.cmd.Process.Kill()
		s.cmd.Wait()
		s.cmd = nil
	}
}

// Restart starts the server (again) on its port and returns once it
// answers PING.
func (s *Server) Restart() {
	s.t.Helper()
	_, port, _ := net.SplitHostPort(s.Addr)
	s.cmd = exec.Command(s.bin, "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no")
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !s.answers() {
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on %s did not answer PING within 10s", s.Addr)
		}
		time.Sleep(10 * time.Millisecond) // polling readiness; nothing to wait on
	}
}

// Freeze stops the process (SIGSTOP): its connections stay open and
// nothing answers, as with a hung server. Kill (or the test's end) ends it.
func (s *Server) Freeze() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		s.t.Fatal(err)
	}
}

func (s *Server) answers() bool {
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{s.Addr}, DisableCache: true, DisableRetry: true})
	if err != nil {
		return false
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	pong, err := c.Do(ctx, c.B().Ping().Build()).ToString()
	return err == nil && strings.EqualFold(pong, "PONG")
}
