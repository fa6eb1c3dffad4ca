package main

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/switchboard-hub/switchboard/internal/app"
	"github.com/switchboard-hub/switchboard/services/auth"
)

// The test binary doubles as the switchboard binary when asked to, so the
// commands run as a user runs them: a real process, real signals.
func TestMain(m *testing.M) {
	if os.Getenv("SWITCHBOARD_RUN_MAIN") == "1" {
		os.Args = append([]string{"switchboard"}, os.Args[1:]...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func command(t *testing.T, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "SWITCHBOARD_RUN_MAIN=1")
	return cmd
}

var restLine = regexp.MustCompile(`REST API\s+http://(\S+)/v1/`)

func TestServeWithoutConfigAndStopOnSIGTERM(t *testing.T) {
	cmd := command(t, "serve", "--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	addr := make(chan string, 1)
	var logs bytes.Buffer
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logs.WriteString(sc.Text() + "\n")
			if m := restLine.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	var http0 string
	select {
	case http0 = <-addr:
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not print where it listens")
	}
	resp, err := http.Post("http://"+http0+"/v1/publish", "application/json", strings.NewReader(`{"channel":"news","data":"1"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("publish on a server without config: %d %s", resp.StatusCode, body)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop after SIGTERM")
	}
}

func TestGenconfigWritesAConfigThatServes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sb.json")
	var out bytes.Buffer
	if err := genconfig([]string{"-o", path, "--tls"}, &out); err != nil {
		t.Fatal(err)
	}
	cfg, err := app.Load(path)
	if err != nil {
		t.Fatalf("generated config does not load: %v", err)
	}
	if len(cfg.APISecret) != 64 || len(cfg.TokenSecret) != 64 || cfg.APISecret == cfg.TokenSecret {
		t.Fatalf("secrets not fresh: %q %q", cfg.APISecret, cfg.TokenSecret)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	// The admin password is stored as a bcrypt hash of the one printed.
	_, printed, ok := strings.Cut(out.String(), "admin password: ")
	printed, _, _ = strings.Cut(printed, " ")
	if !ok || len(cfg.Admins) != 1 || !strings.HasPrefix(cfg.Admins[0].Password, "$2") ||
		bcrypt.CompareHashAndPassword([]byte(cfg.Admins[0].Password), []byte(printed)) != nil {
		t.Fatalf("admin password not a bcrypt hash of the printed one: %q, output %q", cfg.Admins, out.String())
	}
	if _, err := os.Stat(cfg.TLSCert); err != nil {
		t.Fatalf("certificate: %v", err)
	}
	// A second run does not overwrite.
	if err := genconfig([]string{"-o", path}, io.Discard); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("overwrite without --force: %v", err)
	}
	var tok bytes.Buffer
	if err := gentoken([]string{"--config", path, "--user", "42", "--ttl", "1h"}, &tok); err != nil {
		t.Fatal(err)
	}
	user, err := auth.Config{TokenSecret: []byte(cfg.TokenSecret)}.VerifyToken(strings.TrimSpace(tok.String()))
	if err != nil || user != "42" {
		t.Fatalf("minted token: user %q, %v", user, err)
	}
	if err := gentoken([]string{"--user", "42"}, io.Discard); err == nil {
		t.Fatal("gentoken without a secret succeeded")
	}
}

// Without api_secret, serve refuses a listener off loopback, whether its
// address came from a flag or from the config file, and says how to fix it;
// nothing is left listening.
func TestServeRefusesPublicListenerWithoutSecret(t *testing.T) {
	cfgPath := filepath.Join(t.TempDir(), "sb.json")
	if err := os.WriteFile(cfgPath, []byte(`{"http_addr": "127.0.0.1:0", "grpc_addr": "0.0.0.0:0"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, public string
		args         []string
	}{
		{"grpc flag", `grpc_addr "0.0.0.0:0"`, []string{"serve", "--http-addr", "127.0.0.1:0", "--grpc-addr", "0.0.0.0:0"}},
		{"http flag", `http_addr ":0"`, []string{"serve", "--http-addr", ":0", "--grpc-addr", "127.0.0.1:0"}},
		{"config file", `grpc_addr "0.0.0.0:0"`, []string{"serve", "--config", cfgPath}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cmd := command(t, tc.args...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			done := make(chan error, 1)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			go func() { done <- cmd.Wait() }()
			var err error
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("serve started with a public listener and no api_secret:\n%s", stderr.String())
			}
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Fatalf("exit = %v, want status 1\n%s", err, stderr.String())
			}
			out := stderr.String()
			for _, want := range []string{"api_secret is empty", tc.public, "switchboard genconfig", `"api_insecure": true`} {
				if !strings.Contains(out, want) {
					t.Errorf("message lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, "REST API") {
				t.Errorf("serve printed listeners before refusing:\n%s", out)
			}
		})
	}
}
