package bench

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"time"
)

// Scenarios.
const (
	ScenarioFanout   = "fanout"   // N subscribers on one channel
	ScenarioChannels = "channels" // N channels with one subscriber each
	ScenarioIdle     = "idle"     // N subscribed connections, nothing published
)

// FaceCentrifugo is the face of a spawned Centrifugo server.
const FaceCentrifugo = "centrifugo"

// Server modes.
const (
	ServerSpawn     = "spawn"     // a child `switchboard serve` with a temporary config
	ServerInProcess = "inprocess" // internal/app in this process
	ServerRemote    = "remote"    // a running server on loopback (Target, GRPCAddr)
)

// Publishers.
const (
	PublisherHTTP = "http" // Centrifugo v1 POST /api/ with X-API-Sign
	PublisherGRPC = "grpc" // HubService.Publish / Broadcast
)

// Bounds, so that no invocation can run away.
const (
	MaxClients    = 50_000
	MaxMessages   = 1_000_000
	MaxPublishers = 256
	MaxDeliveries = 200_000_000 // clients × messages
	MaxTimeout    = 30 * time.Minute
	MaxPad        = 64 << 10
)

// Options describe one run. Zero values get the defaults of Defaults.
type Options struct {
	Scenario  string
	Face      string // one of Faces()
	Publisher string

	Clients int // N
	// Messages (M) is the number of publications in all. Each goes to one
	// channel: in the channels scenario they are spread round-robin over
	// the N channels (publication k to channel k mod N), so each
	// subscriber receives about M/N of them.
	Messages int
	// Publishers (P) publish concurrently, each waiting for the server's
	// answer before its next publication. In the channels scenario
	// publisher p owns the channels c with c mod P = p, so that the
	// publications of one channel keep their order; on one channel they
	// take publications k with k mod P = p in turn.
	Publishers int
	Rate       float64 // publications per second in all; 0 publishes flat out
	Pad        int     // extra payload bytes

	Timeout time.Duration // the whole run
	Drain   time.Duration // how long to wait for deliveries after the last publish
	Settle  time.Duration // quiet time before each memory reading

	DialConcurrency int // subscribers being set up at once

	Server ServerOptions

	// Progress receives a live status line (nil: none). With ProgressLines
	// each update is a line of its own, for logs; otherwise it is redrawn
	// in place with a carriage return, for a terminal.
	Progress         io.Writer
	ProgressLines    bool
	ProgressInterval time.Duration
}

// ServerOptions say which server to measure.
type ServerOptions struct {
	Mode string

	// Spawn: the command that runs `switchboard serve`; "--config FILE" is
	// appended. Usually {os.Executable(), "serve"}.
	Command []string
	// Log receives the server's log (spawned: its stderr; in-process: its
	// slog output at warn level). nil discards it.
	Log io.Writer

	// Remote: where the server is. Target is its HTTP base URL, GRPCAddr its
	// gRPC API; both must be on loopback.
	Target   string
	GRPCAddr string
	// PID of a remote server, to read its memory; 0 when unknown.
	PID int

	// Centrifugo, when set, is the path of a Centrifugo v6 binary to spawn
	// instead of Switchboard; the subscribers then speak its JSON client
	// protocol (--face centrifugo) and publications go through its HTTP
	// API (POST /api/publish).
	Centrifugo string
	// Redis, when set, is the loopback host:port of a Redis the spawned
	// server uses as its engine, with two nodes: publications go to node
	// A, the subscribers connect to node B, and node B is measured.
	Redis string

	// Credentials. Spawned and in-process servers get fresh random ones.
	APISecret     string // api_secret: X-API-Sign and gRPC api key
	AdminUser     string // an admin account, for the drp face
	AdminPassword string
}

// Faces lists the subscriber faces the bench can open.
func Faces() []string {
	out := make([]string, 0, len(faces))
	for name := range faces {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// Defaults returns the options of a plain `switchboard bench`.
func Defaults() Options {
	return Options{
		Scenario:         ScenarioFanout,
		Face:             "drp",
		Publisher:        PublisherHTTP,
		Clients:          1000,
		Messages:         100,
		Publishers:       1,
		Timeout:          2 * time.Minute,
		Drain:            15 * time.Second,
		Settle:           2 * time.Second,
		DialConcurrency:  64,
		Server:           ServerOptions{Mode: ServerSpawn},
		ProgressInterval: 500 * time.Millisecond,
	}
}

// ErrOptions wraps every problem with the options.
var ErrOptions = errors.New("bench: bad options")

func (o *Options) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch o.Scenario {
	case ScenarioFanout, ScenarioChannels, ScenarioIdle:
	default:
		bad("scenario %q: want fanout, channels or idle", o.Scenario)
	}
	if _, ok := faces[o.Face]; !ok {
		bad("face %q: want one of %v", o.Face, Faces())
	}
	switch o.Publisher {
	case PublisherHTTP, PublisherGRPC:
	default:
		bad("publisher %q: want http or grpc", o.Publisher)
	}
	if o.Clients < 1 || o.Clients > MaxClients {
		bad("clients %d: want 1 to %d", o.Clients, MaxClients)
	}
	if o.Scenario == ScenarioIdle {
		o.Messages = 0
	} else if o.Messages < 1 || o.Messages > MaxMessages {
		bad("messages %d: want 1 to %d", o.Messages, MaxMessages)
	}
	if o.Publishers < 1 || o.Publishers > MaxPublishers {
		bad("publishers %d: want 1 to %d", o.Publishers, MaxPublishers)
	}
	if n := o.plannedDeliveries(); n > MaxDeliveries {
		bad("%d deliveries planned: at most %d per run", n, MaxDeliveries)
	}
	if o.Rate < 0 {
		bad("rate %v: must not be negative", o.Rate)
	}
	if o.Pad < 0 || o.Pad > MaxPad {
		bad("pad %d: want 0 to %d", o.Pad, MaxPad)
	}
	if o.Timeout <= 0 || o.Timeout > MaxTimeout {
		bad("timeout %v: want up to %v", o.Timeout, MaxTimeout)
	}
	if o.Drain <= 0 || o.Settle < 0 {
		bad("drain must be positive and settle not negative")
	}
	if o.DialConcurrency < 1 || o.DialConcurrency > 1024 {
		bad("dial concurrency %d: want 1 to 1024", o.DialConcurrency)
	}
	if o.ProgressInterval <= 0 {
		o.ProgressInterval = 500 * time.Millisecond
	}
	s := &o.Server
	if (s.Centrifugo != "") != (o.Face == FaceCentrifugo) {
		bad("the centrifugo face goes with a spawned Centrifugo server (--centrifugo PATH), and only with it")
	}
	if (s.Centrifugo != "" || s.Redis != "") && s.Mode != ServerSpawn {
		bad("--centrifugo and --redis need --server spawn")
	}
	if s.Redis != "" {
		if err := loopbackAddr(s.Redis); err != nil {
			bad("redis: %v", err)
		}
	}
	switch s.Mode {
	case ServerSpawn:
		if len(s.Command) == 0 && s.Centrifugo == "" {
			bad("spawn: no server command")
		}
	case ServerInProcess:
	case ServerRemote:
		if err := loopbackURL(s.Target); err != nil {
			bad("target: %v", err)
		}
		if s.GRPCAddr != "" {
			if err := loopbackAddr(s.GRPCAddr); err != nil {
				bad("grpc: %v", err)
			}
		}
		if (o.Face == "grpc" || o.Publisher == PublisherGRPC) && s.GRPCAddr == "" {
			bad("the grpc face and publisher need the server's gRPC address (--grpc HOST:PORT)")
		}
		if s.APISecret == "" {
			bad("a running server needs its api_secret (--api-secret)")
		}
		if (o.Face == "drp" || o.Face == "nkservice") && (s.AdminUser == "" || s.AdminPassword == "") {
			bad("the drp and nkservice faces on a running server need an admin account (--admin USER:PASSWORD)")
		}
	default:
		bad("server %q: want spawn, inprocess or remote", s.Mode)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrOptions, errors.Join(errs...))
	}
	return nil
}

// loopbackURL accepts only http://127.x.y.z:port (or localhost) URLs.
func loopbackURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if u.Scheme != "http" {
		return fmt.Errorf("%q: only http:// on loopback", raw)
	}
	return loopbackAddr(u.Host)
}

// loopbackAddr accepts host:port where host is in 127.0.0.0/8 or
// "localhost": the bench never loads another machine.
func loopbackAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q: %w", addr, err)
	}
	if port == "" || port == "0" {
		return fmt.Errorf("%q: a port is required", addr)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.To4() == nil || ip.To4()[0] != 127 {
		return fmt.Errorf("%q: only 127.0.0.0/8 addresses are allowed", addr)
	}
	return nil
}

// plannedDeliveries is how many deliveries the run expects when every
// subscriber connects: one per publication and subscriber of its channel.
func (o *Options) plannedDeliveries() int64 {
	if o.Scenario == ScenarioChannels {
		return int64(o.Messages)
	}
	return int64(o.Clients) * int64(o.Messages)
}
