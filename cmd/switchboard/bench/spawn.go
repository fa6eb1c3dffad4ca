package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Timing of a spawned server.
const (
	readyTimeout = 20 * time.Second      // from exec to /readyz answering 200
	readyPoll    = 50 * time.Millisecond // between /readyz attempts
	stopTimeout  = 15 * time.Second      // SIGTERM to exit, before SIGKILL
	logTail      = 4 << 10               // bytes of server log kept for errors
)

// ErrServerExited: the spawned server ended before it was ready.
var ErrServerExited = errors.New("bench: spawned server exited")

// spawn runs the server as a child process with a temporary config, so that
// the memory read is the server's alone. The child inherits the raised
// open-file limit.
func (t *target) spawn(ctx context.Context, s ServerOptions) error {
	httpAddr, grpcAddr, err := freeAddrs()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "switchboard-bench-")
	if err != nil {
		return err
	}
	cfgPath := filepath.Join(dir, "config.json")
	b, err := json.MarshalIndent(serverConfig(s, httpAddr, grpcAddr), "", "  ")
	if err != nil {
		os.RemoveAll(dir)
		return err
	}
	if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
		os.RemoveAll(dir)
		return err
	}

	tail := &tailBuffer{max: logTail}
	var stderr io.Writer = tail
	if s.Log != nil {
		stderr = io.MultiWriter(tail, s.Log)
	}
	args := append(append([]string(nil), s.Command[1:]...), "--config", cfgPath)
	cmd := exec.Command(s.Command[0], args...)
	cmd.Stdout = stderr
	cmd.Stderr = stderr
	cmd.SysProcAttr = childAttrs()
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return fmt.Errorf("spawn %s: %w", s.Command[0], err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()

	var stopOnce sync.Once
	var stopErr error
	t.stop = func() error {
		stopOnce.Do(func() {
			defer os.RemoveAll(dir)
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(stopTimeout):
				_ = cmd.Process.Kill()
				<-exited
				stopErr = fmt.Errorf("spawned server did not stop within %v; killed", stopTimeout)
			}
		})
		return stopErr
	}
	t.setAddrs(httpAddr, grpcAddr)
	t.pid = cmd.Process.Pid
	t.what = fmt.Sprintf("spawned `%s serve` (pid %d, its own process)", filepath.Base(s.Command[0]), t.pid)

	if err := waitReady(ctx, t.httpURL+"/readyz", exited); err != nil {
		t.stop()
		if errors.Is(err, ErrServerExited) {
			return fmt.Errorf("%w (%v): %s", err, waitErr, tail.String())
		}
		return fmt.Errorf("spawned server: %w; its log: %s", err, tail.String())
	}
	return nil
}

// freeAddrs picks two free loopback ports. Another process could take one
// before the server binds it; the server then fails to start and says so.
func freeAddrs() (httpAddr, grpcAddr string, err error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range 2 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", "", err
		}
		ls = append(ls, l)
	}
	return ls[0].Addr().String(), ls[1].Addr().String(), nil
}

func waitReady(ctx context.Context, url string, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return ErrServerExited
		case <-ctx.Done():
			return fmt.Errorf("not ready: %w", ctx.Err())
		case <-time.After(readyPoll):
		}
	}
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
