package bench

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// PrivateRedis is a throw-away redis-server of a comparison, on a free
// loopback port, without persistence.
type PrivateRedis struct {
	Addr string
	cmd  *exec.Cmd
	done chan struct{}
}

// StartRedis runs redis-server (the program bin) on a free loopback port
// and returns once it answers PING.
func StartRedis(ctx context.Context, bin string) (*PrivateRedis, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no", "--protected-mode", "yes")
	cmd.SysProcAttr = childAttrs()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	r := &PrivateRedis{Addr: addr, cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(r.done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := r.Do("PING"); err == nil {
			return r, nil
		}
		select {
		case <-r.done:
			return nil, fmt.Errorf("%s exited before answering PING", bin)
		case <-ctx.Done():
			r.Stop()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond): // polling readiness; nothing to wait on
		}
		if time.Now().After(deadline) {
			r.Stop()
			return nil, fmt.Errorf("%s on %s did not answer PING within 10s", bin, addr)
		}
	}
}

// Do sends one inline command and fails unless the answer is a status
// (+OK, +PONG).
func (r *PrivateRedis) Do(command string) error {
	c, err := net.DialTimeout("tcp", r.Addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(command + "\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+") {
		return fmt.Errorf("redis %s: %s", command, strings.TrimSpace(line))
	}
	return nil
}

// Stop kills the server and waits for it.
func (r *PrivateRedis) Stop() {
	_ = r.cmd.Process.Signal(syscall.SIGKILL)
	<-r.done
}
