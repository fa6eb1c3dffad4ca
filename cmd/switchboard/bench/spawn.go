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
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/switchboard-hub/switchboard/internal/app"
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
// open-file limit. With s.Redis it runs two nodes on that Redis: node A
// takes the publications, node B the subscribers, and B is the one
// measured.
func (t *target) spawn(ctx context.Context, s ServerOptions) error {
	prefix := "bench" + randomHex(4) // fresh keys in a shared Redis
	if s.Centrifugo != "" {
		t.newPublisher = func() (publisher, error) { return newCentrifugoPublisher(t), nil }
	}
	node := func(name string) (*proc, error) {
		httpAddr, grpcAddr, err := freeAddrs()
		if err != nil {
			return nil, err
		}
		var p *proc
		if s.Centrifugo != "" {
			p, err = startProc(ctx, s.Log, "centrifugo.json", centrifugoConfig(s, t, httpAddr, prefix, name),
				func(cfg string) []string { return []string{s.Centrifugo, "--config", cfg} }, "/health")
		} else {
			cfg := serverConfig(s, httpAddr, grpcAddr)
			if s.Redis != "" {
				cfg.Engine = app.Engine{Type: "redis", Address: s.Redis, Prefix: prefix}
				cfg.NodeName = name
			}
			p, err = startProc(ctx, s.Log, "config.json", cfg,
				func(cfg string) []string { return append(append([]string(nil), s.Command...), "--config", cfg) }, "/readyz")
		}
		if err != nil {
			return nil, err
		}
		p.httpAddr, p.grpcAddr = httpAddr, grpcAddr
		return p, nil
	}
	kind := fmt.Sprintf("`%s serve`", filepath.Base(s.Command0()))
	if s.Centrifugo != "" {
		kind = fmt.Sprintf("`%s` (Centrifugo)", filepath.Base(s.Centrifugo))
	}
	b, err := node("b")
	if err != nil {
		return err
	}
	t.stop = b.stop
	t.setAddrs(b.httpAddr, b.grpcAddr)
	t.pid = b.pid
	t.pubHTTPURL, t.pubGRPCAddr = t.httpURL, t.grpcAddr
	t.what = fmt.Sprintf("spawned %s (pid %d, its own process)", kind, t.pid)
	if s.Redis == "" {
		return nil
	}
	a, err := node("a")
	if err != nil {
		b.stop()
		return err
	}
	t.stop = func() error { return errors.Join(a.stop(), b.stop()) }
	t.pubHTTPURL, t.pubGRPCAddr = "http://"+a.httpAddr, a.grpcAddr
	t.pubPID = a.pid
	t.what = fmt.Sprintf("two spawned %s nodes on Redis %s: publications to node A (pid %d), subscribers on node B (pid %d, the one measured)",
		kind, s.Redis, a.pid, b.pid)
	return nil
}

// Command0 is the program of Command ("" without one).
func (s ServerOptions) Command0() string {
	if len(s.Command) == 0 {
		return ""
	}
	return s.Command[0]
}

// proc is a spawned server process.
type proc struct {
	pid                int
	httpAddr, grpcAddr string
	stop               func() error
}

// startProc writes cfg as JSON into a fresh temporary directory, runs
// args(path of the file), and waits until GET readyPath answers 200 on
// the address cfg's owner chose (passed in the closure's config). stop
// ends the process (SIGTERM, then SIGKILL) and removes the directory.
func startProc(ctx context.Context, log io.Writer, file string, cfg any, args func(cfgPath string) []string, readyPath string) (*proc, error) {
	dir, err := os.MkdirTemp("", "switchboard-bench-")
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, file)
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	httpAddr := configHTTPAddr(cfg)

	tail := &tailBuffer{max: logTail}
	var stderr io.Writer = tail
	if log != nil {
		stderr = io.MultiWriter(tail, log)
	}
	argv := args(cfgPath)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Stdout = stderr
	cmd.Stderr = stderr
	cmd.SysProcAttr = childAttrs()
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("spawn %s: %w", argv[0], err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()

	var stopOnce sync.Once
	var stopErr error
	p := &proc{pid: cmd.Process.Pid}
	p.stop = func() error {
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
	if err := waitReady(ctx, "http://"+httpAddr+readyPath, exited); err != nil {
		p.stop()
		if errors.Is(err, ErrServerExited) {
			return nil, fmt.Errorf("%w (%v): %s", err, waitErr, tail.String())
		}
		return nil, fmt.Errorf("spawned server: %w; its log: %s", err, tail.String())
	}
	return p, nil
}

// configHTTPAddr is the HTTP address a spawned server's config names.
func configHTTPAddr(cfg any) string {
	switch c := cfg.(type) {
	case app.Config:
		return c.HTTPAddr
	case centrifugoConf:
		return net.JoinHostPort(c.HTTPServer.Address, strconv.Itoa(c.HTTPServer.Port))
	}
	return ""
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
