package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// configTemplate is the commented example genconfig writes; %s are filled
// with JSON strings.
const configTemplate = `// Switchboard configuration. JSON with comments; flags of "switchboard serve" override it.
{
  // All HTTP and websocket faces, the REST gateway, /metrics, /healthz, /readyz.
  "http_addr": "127.0.0.1:8000",
  // The gRPC API (HubService, SessionService, health, reflection).
  "grpc_addr": "127.0.0.1:9000",

  // Server API key: HMAC-SHA256 key of X-API-Sign on the Centrifugo API, and
  // "authorization: apikey <api_secret>" on gRPC and REST.
  "api_secret": %s,
  // true accepts unsigned server API calls (only behind a firewall).
  "api_insecure": false,
  // HS256 key of client tokens (JWT "sub" = user id); "switchboard gentoken" mints them.
  "token_secret": %s,

  // Administrators: Comet admin API and event stream, DRP basic auth. The
  // password is a bcrypt hash (genconfig prints the password it made) or a
  // plain password; a base32 totp_secret makes a TOTP code required.
  "admins": [
    {"username": "admin", "password": %s, "totp_secret": ""}
  ],

  // "memory" (one node) or "redis" (several nodes share fan-out, history, presence).
  "engine": {"type": "memory", "address": "127.0.0.1:6379", "prefix": "switchboard"},

  // Per-channel history (history, comet pipe_log, resume). Both finite by default.
  "history_size": 100,
  "history_ttl": "5m",
  // Options per namespace: channels named "<name>:..." ("$" prefix ignored).
  "namespaces": [
    {"name": "chat", "history_size": 50, "history_ttl": "1h", "presence": true, "join_leave": true}
  ],

  // Limits: bytes of event data, events queued per connection before it is
  // cut off as a slow consumer, directed messages queued per offline user.
  "max_payload_bytes": 65536,
  "client_queue_size": 1024,
  "user_queue_size": 10,
  "stream_heartbeat": "25s",
  // Browser pages allowed to open websockets on every face, besides this
  // server's own host (host patterns, "*" = any); clients that send no
  // Origin (CLIs, daemons) are always allowed. Empty = same host only.
  "allowed_origins": [],

  // Serve every HTTP face over HTTPS/WSS.
  "tls_cert": %s,
  "tls_key": %s,

  // Centrifugo v1 face: also execute commands pushed onto Redis lists
  // (RPUSH centrifugo.api '{"method":...}').
  "centrifugo": {"redis_api": false, "redis_prefix": "centrifugo", "redis_num_shards": 0},
  // comet-server face: Origin prefixes it also requires (narrows
  // allowed_origins; empty = no narrowing).
  "cppcomet": {"origin_allow": []},
  // NkSERVICE face: classes users (not admins) may subscribe to and send,
  // besides their own user and session events ("*": every class but core).
  "nkservice": {"subscribe_classes": ["*"], "send_classes": ["*"]},
  // Session logs (NkSERVICE session/log) also go to this GELF UDP input.
  "gelf_addr": "",

  "log_level": "info",
  "log_format": "text"
}
`

func genconfig(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("genconfig", flag.ContinueOnError)
	out := fs.String("o", "switchboard.json", `file to write ("-" for standard output)`)
	force := fs.Bool("force", false, "overwrite an existing file")
	withTLS := fs.Bool("tls", false, "also write a self-signed certificate and key for localhost (FILE-cert.pem, FILE-key.pem)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var certPath, keyPath string
	if *withTLS {
		if *out == "-" {
			return errors.New("--tls needs -o FILE to know where to put the certificate")
		}
		base := strings.TrimSuffix(*out, filepath.Ext(*out))
		certPath, keyPath = base+"-cert.pem", base+"-key.pem"
		if err := writeSelfSigned(certPath, keyPath, *force); err != nil {
			return err
		}
	}
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	password := secret()[:24]
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return err
	}
	text := fmt.Sprintf(configTemplate, q(secret()), q(secret()), q(string(hash)), q(certPath), q(keyPath))
	if *out == "-" {
		_, err := io.WriteString(stdout, text)
		fmt.Fprintf(os.Stderr, "admin password: %s (the config holds its bcrypt hash)\n", password)
		return err
	}
	if err := writeNew(*out, []byte(text), 0o600, *force); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", *out)
	fmt.Fprintf(stdout, "admin password: %s (the config holds its bcrypt hash)\n", password)
	if certPath != "" {
		fmt.Fprintf(stdout, "wrote %s and %s (self-signed for localhost, 127.0.0.1, ::1)\n", certPath, keyPath)
	}
	fmt.Fprintf(stdout, "run: switchboard serve --config %s\n", *out)
	return nil
}

func secret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func writeNew(path string, data []byte, perm os.FileMode, force bool) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, perm)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%s exists (use --force to overwrite)", path)
	}
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeSelfSigned makes an ECDSA P-256 certificate valid for a year for the
// loopback names.
func writeSelfSigned(certPath, keyPath string, force bool) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "localhost", Organization: []string{"Switchboard self-signed"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(1, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := writeNew(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644, force); err != nil {
		return err
	}
	return writeNew(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600, force)
}
