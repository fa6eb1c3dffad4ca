package main

import (
	"context"
	"debug/buildinfo"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	sbbench "github.com/switchboard-hub/switchboard/cmd/switchboard/bench"
	"github.com/switchboard-hub/switchboard/internal/app"
)

// runCompare runs `switchboard bench compare`: the rows of the comparison
// with Centrifugo, each against both servers in turn, and a markdown table
// of medians and ranges on stdout (a line per run on stderr).
func runCompare(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: switchboard bench compare --centrifugo PATH [flags]\n\n"+
			"Runs each row against a spawned Centrifugo and a spawned Switchboard in\n"+
			"turn (A B A B A B, fresh processes every run) with the same load generator\n"+
			"and prints a markdown table of medians and ranges. Loopback only.\n\nRows: %s\n\n",
			strings.Join(rowNames(), ", "))
		fs.PrintDefaults()
	}
	centrifugo := fs.String("centrifugo", "", "the Centrifugo v6 binary (make compare installs v6.9.1)")
	rounds := fs.Int("rounds", 3, "runs of each row on each server")
	rows := fs.String("rows", "all", "comma-separated rows to run, or all")
	scale := fs.Float64("scale", 1, "multiply the subscribers and publications of every row by this (0 < scale ≤ 1), for a quick check")
	face := fs.String("face", "drp", "Switchboard's subscriber face")
	redisAddr := fs.String("redis", "", "loopback HOST:PORT of a Redis for the Redis rows; empty starts a private redis-server")
	redisBin := fs.String("redis-server", "redis-server", "the redis-server program for a private Redis")
	timeout := fs.Duration("timeout", 4*time.Minute, "bound on one run")
	jsonDir := fs.String("json-dir", "", "also write every run's report as JSON into this directory")
	command := fs.String("command", "", "command line shown in the table (default: this one)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *centrifugo == "" {
		return errors.New("--centrifugo: the Centrifugo binary is required (make compare installs it)")
	}
	selected, err := sbbench.SelectRows(*rows, *scale)
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cver, err := centrifugoVersion(*centrifugo)
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	o := sbbench.CompareOptions{
		Rows: selected, Rounds: *rounds, Centrifugo: *centrifugo, Command: []string{exe, "serve"},
		Face: *face, Redis: *redisAddr, Timeout: *timeout, Log: stderr,
	}
	var flush func() error
	for _, r := range selected {
		if r.Redis && o.Redis == "" {
			red, err := sbbench.StartRedis(ctx, *redisBin)
			if err != nil {
				return fmt.Errorf("the Redis rows need a Redis (--redis, or redis-server installed): %w", err)
			}
			defer red.Stop()
			o.Redis = red.Addr
			flush = func() error { return red.Do("FLUSHALL") }
			fmt.Fprintf(stderr, "private redis-server on %s\n", red.Addr)
			break
		}
	}
	if *jsonDir != "" {
		if err := os.MkdirAll(*jsonDir, 0o755); err != nil {
			return err
		}
		o.JSON = func(row sbbench.CompareRow, server string, round int, r *sbbench.Report) {
			f, err := os.Create(filepath.Join(*jsonDir, fmt.Sprintf("%s-%s-%d.json", row.Name, server, round)))
			if err != nil {
				fmt.Fprintln(stderr, err)
				return
			}
			defer f.Close()
			enc := json.NewEncoder(f)
			enc.SetIndent("", "  ")
			_ = enc.Encode(r)
		}
	}

	c := &sbbench.Comparison{
		Command:            *command,
		Date:               time.Now(),
		Machine:            machine(),
		Rounds:             *rounds,
		CentrifugoVersion:  cver,
		SwitchboardVersion: app.Version,
		SwitchboardFace:    *face,
	}
	if c.Command == "" {
		c.Command = "switchboard bench compare " + strings.Join(args, " ")
	}
	res, runErr := sbbench.RunComparison(ctx, o, flush)
	c.Rows = res
	if err := c.WriteMarkdown(stdout); err != nil {
		return err
	}
	return runErr
}

func rowNames() []string {
	var out []string
	for _, r := range sbbench.CompareRows() {
		out = append(out, r.Name)
	}
	return out
}

// centrifugoVersion is the module version the binary was built from
// (`go install ...@v6.9.1` records it; its own `version` command then
// says v0.0.0, as the release's -ldflags are not applied).
func centrifugoVersion(path string) (string, error) {
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("--centrifugo: %w", err)
	}
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("--centrifugo %s: not a Go binary with build information: %w", path, err)
	}
	if !strings.HasPrefix(bi.Main.Path, "github.com/centrifugal/centrifugo") {
		return "", fmt.Errorf("--centrifugo %s: built from %s, not Centrifugo", path, bi.Main.Path)
	}
	return bi.Main.Version, nil
}

// machine describes the processor, e.g. "2 cores (AMD EPYC 7B13), linux/amd64".
func machine() string {
	model := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	s := fmt.Sprintf("%d cores", runtime.NumCPU())
	if model != "" {
		s += " (" + model + ")"
	}
	return s + ", " + runtime.GOOS + "/" + runtime.GOARCH
}
