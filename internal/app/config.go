package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/switchboard-hub/switchboard/services/hub"
	"github.com/switchboard-hub/switchboard/services/webhook"
)

// Config is the whole server configuration: one JSON file (comments
// allowed), overridden by flags. See README "Configuration".
type Config struct {
	HTTPAddr    string  `json:"http_addr"`
	GRPCAddr    string  `json:"grpc_addr"`
	APISecret   string  `json:"api_secret"`
	APIInsecure bool    `json:"api_insecure"`
	TokenSecret string  `json:"token_secret"`
	Admins      []Admin `json:"admins"`
	// AdminSessionTTL is the life of an admin session key.
	AdminSessionTTL Duration `json:"admin_session_ttl"`
	Engine          Engine   `json:"engine"`

	HistorySize int         `json:"history_size"`
	HistoryTTL  Duration    `json:"history_ttl"`
	NoPresence  bool        `json:"no_presence"`
	JoinLeave   bool        `json:"join_leave"`
	Namespaces  []Namespace `json:"namespaces"`

	MaxPayload      int      `json:"max_payload_bytes"`
	ClientQueueSize int      `json:"client_queue_size"`
	UserQueueSize   int      `json:"user_queue_size"`
	StreamHeartbeat Duration `json:"stream_heartbeat"`
	AllowedOrigins  []string `json:"allowed_origins"`

	TLSCert string `json:"tls_cert"`
	TLSKey  string `json:"tls_key"`

	// Upstream, when set, makes this process an edge: it serves the HTTP and
	// websocket faces against the core at this gRPC address and runs no core.
	Upstream string `json:"upstream"`

	// DebugAddr, when set, serves the Go profiler (/debug/pprof/) there.
	DebugAddr string `json:"debug_addr"`

	LogLevel  string `json:"log_level"`
	LogFormat string `json:"log_format"`
	NodeName  string `json:"node_name"`

	// GELFAddr, when set, is the host:port of a GELF UDP input: session
	// logs (NkSERVICE session/log, DirectoryService.WriteLog) go there too.
	GELFAddr string `json:"gelf_addr"`

	Centrifugo Centrifugo `json:"centrifugo"`
	Console    Console    `json:"console"`
	CppComet   CppComet   `json:"cppcomet"`
	NkService  NkService  `json:"nkservice"`

	// WebhookOptions is Comet's endpoint map (name → WebhookOption), kept
	// under Comet's own key; changes made through the API are written back
	// here. Webhooks tunes their delivery.
	WebhookOptions map[string]webhook.Endpoint `json:"WebhookOptions"`
	Webhooks       Webhooks                    `json:"webhooks"`

	// path is the file the config was loaded from ("" without one).
	path string
}

// Webhooks tunes webhook delivery; zero values take the defaults.
type Webhooks struct {
	// Store is the queue file with the memory engine (default: beside the
	// config file, "<config>.webhooks.db"; without a config file, in the
	// temporary folder). With the Redis engine the queues live in Redis.
	Store       string   `json:"store,omitempty"`
	MaxAttempts int      `json:"max_attempts,omitempty"` // default 8
	BaseDelay   Duration `json:"base_delay,omitempty"`   // first retry; default 1s, doubling
	MaxDelay    Duration `json:"max_delay,omitempty"`    // default 1m
	Timeout     Duration `json:"timeout,omitempty"`      // per attempt; default 10s
	QueueMax    int      `json:"queue_max,omitempty"`    // events kept per endpoint; default 10000
}

// NkService configures the NkSERVICE face.
type NkService struct {
	// SubscribeClasses and SendClasses are the event classes a user that is
	// not an admin may subscribe to and send, besides its own user and
	// session events. "*" is every class but "core". Missing: ["*"].
	SubscribeClasses []string `json:"subscribe_classes"`
	SendClasses      []string `json:"send_classes"`
	// ReplyTimeout: a server request (event, relayed command) the client
	// neither answers nor acks this long closes it (default 5s, §3.1).
	ReplyTimeout Duration `json:"reply_timeout"`
	// CommandTimeout bounds a session/cmd relay (default 10s).
	CommandTimeout Duration `json:"command_timeout"`
	// IdleTimeout closes a connection that neither sent nor was sent a
	// frame this long (default 30s, api_server_timeout; negative: never).
	IdleTimeout Duration `json:"idle_timeout"`
	// PingInterval: logged-in connections get a core/ping request at once
	// and then at this interval, to be answered in reply_timeout (default
	// none, §3.4).
	PingInterval Duration `json:"ping_interval"`
}

// Admin is an administrator account (Comet admin API and event stream, DRP
// basic auth).
type Admin struct {
	Username   string `json:"username"`
	Password   string `json:"password"`              // plain or a bcrypt hash ($2a$/$2b$/$2y$)
	TOTPSecret string `json:"totp_secret,omitempty"` // base32 RFC 6238 secret
}

// Engine selects the engine.
type Engine struct {
	Type    string `json:"type"`              // "memory" (default) or "redis"
	Address string `json:"address,omitempty"` // Redis host:port
	Prefix  string `json:"prefix,omitempty"`  // Redis key prefix (default "switchboard")
}

// Namespace holds options for channels "<name>:...".
type Namespace struct {
	Name        string   `json:"name"`
	HistorySize int      `json:"history_size"`
	HistoryTTL  Duration `json:"history_ttl"`
	Presence    bool     `json:"presence"`
	JoinLeave   bool     `json:"join_leave"`
}

// Centrifugo configures the Centrifugo v1 server API face.
type Centrifugo struct {
	RedisAPI       bool   `json:"redis_api"`        // consume commands from Redis lists
	RedisAddress   string `json:"redis_address"`    // default: engine.address or 127.0.0.1:6379
	RedisPrefix    string `json:"redis_prefix"`     // default "centrifugo"
	RedisNumShards int    `json:"redis_num_shards"` // extra <prefix>.api.N lists
}

// Console configures the web console.
type Console struct {
	// SSOOrigins may log the console in with postMessage (Comet's
	// session_login and user_session_login) and embed it in a frame, e.g.
	// "https://portal.example.com".
	SSOOrigins []string `json:"sso_origins"`
}

// CppComet configures the comet-server websocket face.
type CppComet struct {
	// OriginAllow, when set, narrows allowed_origins for comet pages: the
	// Origin must also start with one of these hosts (else error 423 on
	// pipe sys, as comet-server does).
	OriginAllow []string `json:"origin_allow"`
}

// Default returns the configuration `switchboard serve` runs with when no
// file is given.
func Default() Config {
	return Config{
		HTTPAddr:        "127.0.0.1:8000",
		GRPCAddr:        "127.0.0.1:9000",
		Engine:          Engine{Type: "memory"},
		HistorySize:     100,
		HistoryTTL:      Duration(5 * time.Minute),
		MaxPayload:      64 << 10,
		ClientQueueSize: 1024,
		UserQueueSize:   10,
		StreamHeartbeat: Duration(25 * time.Second),
		AdminSessionTTL: Duration(time.Hour),
		LogLevel:        "info",
		LogFormat:       "text",
	}
}

// Load reads a config file over the defaults. Unknown keys are an error, so
// a typo does not silently fall back to a default.
func Load(path string) (Config, error) {
	cfg := Default()
	b, err := os.ReadFile(path)
	if err != nil {
		return cfg, err
	}
	plain, err := StripComments(b)
	if err != nil {
		return cfg, fmt.Errorf("%s: %w", path, err)
	}
	dec := json.NewDecoder(strings.NewReader(string(plain)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return cfg, fmt.Errorf("%s: %w", path, err)
	}
	cfg.path = path
	return cfg, nil
}

// Validate checks the configuration before anything starts.
func (c *Config) Validate() error {
	var errs []error
	if c.DebugAddr != "" && !loopback(c.DebugAddr) {
		errs = append(errs, fmt.Errorf("debug_addr %q: the profiler may only listen on loopback", c.DebugAddr))
	}
	if c.GELFAddr != "" {
		if _, err := net.ResolveUDPAddr("udp", c.GELFAddr); err != nil {
			errs = append(errs, fmt.Errorf("gelf_addr %q: %w", c.GELFAddr, err))
		}
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		errs = append(errs, fmt.Errorf("http_addr %q: %w", c.HTTPAddr, err))
	}
	if c.Upstream == "" {
		if _, _, err := net.SplitHostPort(c.GRPCAddr); err != nil {
			errs = append(errs, fmt.Errorf("grpc_addr %q: %w", c.GRPCAddr, err))
		}
	}
	switch c.Engine.Type {
	case "", "memory", "redis":
	default:
		errs = append(errs, fmt.Errorf("engine.type %q: want \"memory\" or \"redis\"", c.Engine.Type))
	}
	if c.HistorySize < 0 || c.HistoryTTL < 0 {
		errs = append(errs, errors.New("history_size and history_ttl must not be negative"))
	}
	if c.AdminSessionTTL < 0 {
		errs = append(errs, errors.New("admin_session_ttl must not be negative"))
	}
	if c.MaxPayload <= 0 || c.ClientQueueSize <= 0 || c.UserQueueSize < 0 {
		errs = append(errs, errors.New("max_payload_bytes and client_queue_size must be positive"))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("tls_cert and tls_key go together"))
	}
	seen := map[string]bool{}
	for _, ns := range c.Namespaces {
		if !validNamespace(ns.Name) {
			errs = append(errs, fmt.Errorf("namespace %q: names are 2+ characters of [-a-zA-Z0-9_]", ns.Name))
		}
		if ns.Name == hub.SysNamespace {
			errs = append(errs, fmt.Errorf("namespace %q is reserved for the hub's lifecycle events", ns.Name))
		}
		if seen[ns.Name] {
			errs = append(errs, fmt.Errorf("namespace %q is defined twice", ns.Name))
		}
		seen[ns.Name] = true
	}
	if c.APISecret == "" && !c.APIInsecure {
		if public := c.publicListeners(); len(public) > 0 {
			verb := "is"
			if len(public) > 1 {
				verb = "are"
			}
			errs = append(errs, fmt.Errorf("api_secret is empty but %s %s not on loopback: "+
				"without a secret every listener (http_addr, grpc_addr, debug_addr) must be a loopback address. "+
				"Run `switchboard genconfig -o switchboard.json` for a config with fresh secrets and serve with --config, "+
				"or set \"api_insecure\": true (--api-insecure) to serve unsigned calls on purpose",
				strings.Join(public, " and "), verb))
		}
	}
	if err := webhook.Validate(c.WebhookOptions); err != nil {
		errs = append(errs, err)
	}
	if c.Webhooks.MaxAttempts < 0 || c.Webhooks.QueueMax < 0 || c.Webhooks.BaseDelay < 0 || c.Webhooks.MaxDelay < 0 || c.Webhooks.Timeout < 0 {
		errs = append(errs, errors.New("webhooks: attempts, delays, timeout and queue_max must not be negative"))
	}
	for _, o := range c.Console.SSOOrigins {
		if u, err := url.Parse(o); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || o != u.Scheme+"://"+u.Host {
			errs = append(errs, fmt.Errorf("console.sso_origins: %q is not an origin like https://portal.example.com", o))
		}
	}
	for i, a := range c.Admins {
		if a.Username == "" || a.Password == "" {
			errs = append(errs, fmt.Errorf("admins[%d]: username and password are required", i))
		}
		if a.TOTPSecret != "" {
			if _, err := totp.GenerateCode(a.TOTPSecret, time.Now()); err != nil {
				errs = append(errs, fmt.Errorf("admins[%d].totp_secret: not base32: %w", i, err))
			}
		}
	}
	return errors.Join(errs...)
}

// publicListeners names the listeners that are not on loopback, as
// "key \"addr\"" (an empty host, such as ":9000", is every interface).
func (c *Config) publicListeners() []string {
	var out []string
	check := func(key, addr string) {
		if addr != "" && !loopback(addr) {
			out = append(out, fmt.Sprintf("%s %q", key, addr))
		}
	}
	check("http_addr", c.HTTPAddr)
	if c.Upstream == "" {
		check("grpc_addr", c.GRPCAddr)
	}
	check("debug_addr", c.DebugAddr)
	return out
}

// maxRequestBytes bounds one API request: a gRPC message, a REST body.
// Room for the largest event (max_payload_bytes) in JSON, whose escapes can
// grow text several times, plus the other fields.
func (c *Config) maxRequestBytes() int64 { return int64(c.MaxPayload)*4 + 1<<20 }

// insecureAPI reports whether unsigned API calls are accepted: when asked
// for, or when no secret is set at all (then only loopback is served, see
// Validate).
func (c *Config) insecureAPI() bool { return c.APIInsecure || c.APISecret == "" }

func validNamespace(s string) bool {
	if len(s) < 2 {
		return false
	}
	for _, r := range s {
		if !(r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Duration is a time.Duration written as "90s", "5m" or a number of seconds.
type Duration time.Duration

// MarshalJSON writes the duration as a string such as "5m0s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "5m", "90s" or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("duration %q: %w", s, err)
		}
		*d = Duration(v)
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("duration %s: want a string like \"5m\" or seconds", b)
	}
	*d = Duration(time.Duration(f * float64(time.Second)))
	return nil
}
