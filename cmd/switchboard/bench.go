package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"

	sbbench "github.com/switchboard-hub/switchboard/cmd/switchboard/bench"
)

// bench runs `switchboard bench`: flags in, a table (or JSON) out. The
// measuring is package bench's (imported as sbbench: the name bench is
// this command's).
func bench(args []string) error { return runBench(args, os.Stdout, os.Stderr) }

func runBench(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "compare" {
		return runCompare(args[1:], stdout, stderr)
	}
	d := sbbench.Defaults()
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: switchboard bench [flags]\n\n"+
			"Opens N subscribers on one face, publishes M stamped messages through the\n"+
			"server API and reports delivered msgs/s, latency, loss, set-up rate, the\n"+
			"server's memory per connection and its CPU time per million deliveries.\n"+
			"Loopback only.\n\n"+
			"Examples:\n"+
			"  switchboard bench -n 10000 -m 100                 # fan-out, flat out\n"+
			"  switchboard bench -n 1000 -m 200 --rate 20        # 20 msg/s for 10 s\n"+
			"  switchboard bench --scenario channels -n 5000 -m 50000 --publishers 8\n"+
			"  switchboard bench --scenario idle -n 10000        # memory and set-up rate\n"+
			"  switchboard bench compare --centrifugo PATH       # side by side with Centrifugo (make compare)\n\n")
		fs.PrintDefaults()
	}
	o := d
	fs.StringVar(&o.Scenario, "scenario", d.Scenario, "fanout (one channel, N subscribers), channels (N channels, one subscriber each) or idle (N subscribed connections, nothing published)")
	fs.StringVar(&o.Face, "face", d.Face, "subscriber face: "+strings.Join(sbbench.Faces(), ", "))
	fs.StringVar(&o.Publisher, "publisher", d.Publisher, "http (Centrifugo v1 POST /api/, signed) or grpc (HubService)")
	fs.IntVar(&o.Clients, "n", d.Clients, "subscribers (N)")
	fs.IntVar(&o.Messages, "m", d.Messages, "publications in all (M), each to one channel; with --scenario channels spread round-robin over the N channels")
	fs.IntVar(&o.Publishers, "publishers", d.Publishers, "concurrent publishers (P), each waiting for the answer before its next publication")
	fs.Float64Var(&o.Rate, "rate", d.Rate, "publications per second in all; 0 publishes flat out")
	fs.IntVar(&o.Pad, "pad", d.Pad, "extra bytes of payload per message")
	fs.DurationVar(&o.Timeout, "timeout", d.Timeout, "bound on the whole run")
	fs.DurationVar(&o.Drain, "drain", d.Drain, "how long to wait for deliveries after the last publish")
	fs.DurationVar(&o.Settle, "settle", d.Settle, "quiet time before each reading of the server's memory")
	fs.IntVar(&o.DialConcurrency, "concurrency", d.DialConcurrency, "subscribers set up at a time")
	server := fs.String("server", "spawn", "spawn (a child `switchboard serve`, measured alone) or inprocess (shares this process); ignored with --target")
	fs.StringVar(&o.Server.Centrifugo, "centrifugo", "", "spawn this Centrifugo v6 binary instead of Switchboard (implies --face centrifugo; publishes through its POST /api/publish)")
	fs.StringVar(&o.Server.Redis, "redis", "", "loopback HOST:PORT of a Redis: spawn two nodes on it as engine, publish to node A, subscribe on node B and measure B")
	fs.StringVar(&o.Server.Target, "target", "", "measure a running server at this loopback HTTP URL instead, e.g. http://127.0.0.1:8000")
	fs.StringVar(&o.Server.GRPCAddr, "grpc", "", "with --target: the server's gRPC address (grpc face and publisher)")
	fs.StringVar(&o.Server.APISecret, "api-secret", "", "with --target: the server's api_secret")
	admin := fs.String("admin", "", "with --target: an admin account USER:PASSWORD (drp face)")
	fs.IntVar(&o.Server.PID, "server-pid", 0, "with --target: the server's pid, to read its memory")
	serverLog := fs.Bool("server-log", false, "show the server's log on stderr")
	asJSON := fs.Bool("json", false, "write the report as JSON on stdout (the table goes to stderr)")
	quiet := fs.Bool("quiet", false, "no progress line")
	cpuProfile := fs.String("cpuprofile", "", "write this process's CPU profile to the file (with --server inprocess it covers the server too)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}

	faceSet := false
	fs.Visit(func(f *flag.Flag) { faceSet = faceSet || f.Name == "face" })
	if o.Server.Centrifugo != "" && !faceSet {
		o.Face = sbbench.FaceCentrifugo
	}
	o.Server.Mode = *server
	if o.Server.Target != "" {
		o.Server.Mode = sbbench.ServerRemote
	}
	if *admin != "" {
		user, pass, ok := strings.Cut(*admin, ":")
		if !ok {
			return errors.New("--admin: want USER:PASSWORD")
		}
		o.Server.AdminUser, o.Server.AdminPassword = user, pass
	}
	if o.Server.Mode == sbbench.ServerSpawn {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("--server spawn: cannot find this executable (%w); use --server inprocess", err)
		}
		o.Server.Command = []string{exe, "serve"}
	}
	if *serverLog {
		o.Server.Log = stderr
	}
	if !*quiet {
		o.Progress = stderr
		o.ProgressLines = !isTerminal(stderr)
		if o.ProgressLines {
			o.ProgressInterval *= 10
		}
	}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := sbbench.Run(ctx, o)
	if err != nil {
		return err
	}
	if *asJSON {
		if err := r.WriteTable(stderr); err != nil {
			return err
		}
		return r.WriteJSON(stdout)
	}
	return r.WriteTable(stdout)
}

// isTerminal reports whether w is a character device, where the progress
// line can be redrawn in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
