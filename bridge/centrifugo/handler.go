package centrifugo

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/switchboard-hub/switchboard/bridge"
)

// Path is where the face is mounted. PathNoSlash answers 301 to Path, as the
// ServeMux of v1's Go did for a subtree pattern (centrifugo-v1.md §1); today's
// ServeMux answers 307 instead, so mount the handler at both paths.
const (
	Path        = "/api/"
	PathNoSlash = "/api"
)

// Request-level answers. They are plain-text http.Error bodies with the
// status text ("Bad Request\n", ...), exactly what v1 sent (§2, §3.3).
const (
	statusNoSign     = http.StatusBadRequest   // sign missing while not insecure
	statusNoData     = http.StatusBadRequest   // empty body or empty "data" field
	statusNoSecret   = http.StatusBadRequest   // not insecure and no api_secret configured
	statusBadSign    = http.StatusUnauthorized // wrong length or wrong value
	statusBadCommand = http.StatusBadRequest   // a command failed to decode
	statusReadFailed = http.StatusInternalServerError
	statusTooLarge   = http.StatusRequestEntityTooLarge // over MaxBodyBytes (v1 had no limit)
)

// signLength is the length of a lowercase hex HMAC-SHA256; v1 rejects any
// other length before comparing.
const signLength = 2 * sha256.Size

// DefaultMaxBodyBytes bounds a request body when Options.MaxBodyBytes is 0.
// v1 read bodies without limit; an unbounded read lets one request exhaust
// memory, so the face sets one large enough for any sane batch.
const DefaultMaxBodyBytes = 16 << 20

// maxPresize bounds the buffer set up for a body from its Content-Length.
const maxPresize = 1 << 20

// maxFormMemory is what the form variant keeps in memory (the default of
// net/http's FormValue, which v1 used).
const maxFormMemory = 32 << 20

// Options configure the face. The app fills them from its config file.
type Options struct {
	APISecret    string // api_secret: key of the X-API-Sign / sign HMAC
	APIInsecure  bool   // api_insecure: accept requests without a sign
	MaxBodyBytes int64  // request body limit; 0 = DefaultMaxBodyBytes, < 0 = unlimited

	// Redis API queue (centrifugo-v1.md §3.4), consumed by Run when RedisAPI
	// is set.
	RedisAPI       bool
	RedisAddress   string // host:port; default 127.0.0.1:6379
	RedisPrefix    string // list key prefix; default "centrifugo"
	RedisNumShards int    // also consume <prefix>.api.0 … <prefix>.api.N-1

	Logger *slog.Logger // default deps.Logger, then slog.Default()
}

// Handler serves the v1 server HTTP API and, through Run, its Redis queue.
type Handler struct {
	opts Options
	exec *Executor
	log  *slog.Logger
	macs sync.Pool // hash.Hash: HMAC-SHA256 keyed with opts.APISecret
}

// New builds the face on deps.Hub. It uses nothing else from deps: the
// server API reaches the core through HubService only.
func New(deps bridge.Deps, opts Options) *Handler {
	log := opts.Logger
	if log == nil {
		log = deps.Logger
	}
	if log == nil {
		log = slog.Default()
	}
	log = log.With("face", "centrifugo")
	if opts.MaxBodyBytes == 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	return &Handler{opts: opts, exec: NewExecutor(deps.Hub, log), log: log}
}

// ServeHTTP answers one API request. As in v1 the HTTP method is not checked
// and sub-paths of /api/ are the API too; the check order and statuses
// follow centrifugo-v1.md §2.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == PathNoSlash {
		target := Path
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, target, http.StatusMovedPermanently)
		return
	}
	if h.opts.MaxBodyBytes > 0 {
		r.Body = http.MaxBytesReader(w, r.Body, h.opts.MaxBodyBytes)
	}

	data, sign, code := h.readRequest(r)
	if code != 0 {
		if code == statusBadSign || code == statusNoSign {
			h.log.Info("api request refused before its body was read", "status", code, "remote", r.RemoteAddr)
			w.Header().Set("Connection", "close") // not worth draining the body
		}
		fail(w, code)
		return
	}
	if !h.opts.APIInsecure && sign == "" {
		h.log.Info("api request without sign", "remote", r.RemoteAddr)
		fail(w, statusNoSign)
		return
	}
	if len(data) == 0 {
		h.log.Info("api request without data", "remote", r.RemoteAddr)
		fail(w, statusNoData)
		return
	}
	if !h.opts.APIInsecure {
		if h.opts.APISecret == "" {
			h.log.Error("api request refused: api_secret is not configured and api_insecure is off")
			fail(w, statusNoSecret)
			return
		}
		if !h.validSign(data, sign) {
			h.log.Info("api request with invalid sign", "remote", r.RemoteAddr)
			fail(w, statusBadSign)
			return
		}
	}

	cmds, err := DecodeCommands(data)
	if err != nil {
		h.log.Info("api request rejected", "remote", r.RemoteAddr, "err", err)
		fail(w, statusBadCommand)
		return
	}
	countRequest()
	// In order: a batch is a sequence (v1 §5).
	replies := h.exec.ExecuteAll(r.Context(), cmds, make([]Reply, 0, len(cmds)))
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(AppendReplies(make([]byte, 0, 64*len(replies)), replies))
}

// readRequest extracts the command JSON and the sign. A Content-Type
// starting with application/json (any case) means the raw body plus the
// X-API-Sign header; anything else is the older form variant with fields
// data and sign (URL query included, as FormValue reads it; the body only for
// the urlencoded and multipart types, as net/http parses it). In insecure mode
// the sign is not read at all. code is non-zero when the request must be
// answered with that status.
func (h *Handler) readRequest(r *http.Request) (data []byte, sign string, code int) {
	if strings.HasPrefix(strings.ToLower(r.Header.Get("Content-Type")), "application/json") {
		if !h.opts.APIInsecure {
			// Credentials first: without a sign of the right length the
			// body is never read.
			sign = r.Header.Get("X-API-Sign")
			switch {
			case sign == "":
				return nil, "", statusNoSign
			case len(sign) != signLength:
				return nil, "", statusBadSign
			}
		}
		// One allocation for a body that says its length (bounded, as
		// the length is only a claim until the bytes arrive).
		var body bytes.Buffer
		if n := r.ContentLength; n > 0 {
			body.Grow(int(min(n, maxPresize)) + bytes.MinRead)
		}
		if _, err := body.ReadFrom(r.Body); err != nil {
			return nil, "", h.readFailure(err)
		}
		return body.Bytes(), sign, 0
	}
	var err error
	if strings.HasPrefix(strings.ToLower(r.Header.Get("Content-Type")), "multipart/form-data") {
		err = r.ParseMultipartForm(maxFormMemory)
	} else {
		err = r.ParseForm()
	}
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, "", statusTooLarge
		}
		// v1 read the fields with FormValue, which ignores parse errors:
		// what could be read is used and a missing data field is a 400.
		h.log.Debug("api form parse", "err", err)
	}
	if !h.opts.APIInsecure {
		sign = r.FormValue("sign")
	}
	return []byte(r.FormValue("data")), sign, 0
}

func (h *Handler) readFailure(err error) int {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return statusTooLarge
	}
	h.log.Warn("api request body read failed", "err", err)
	return statusReadFailed
}

// fail answers with a plain-text status, as v1's http.Error calls did.
func fail(w http.ResponseWriter, code int) {
	http.Error(w, http.StatusText(code), code)
}

// validSign checks sign against the lowercase hex HMAC-SHA256 of the exact
// body bytes. Like v1 it demands 64 characters and compares the hex strings
// in constant time, so an uppercase sign fails. The keyed hashes are
// pooled: setting one up costs more than signing a small body.
func (h *Handler) validSign(body []byte, sign string) bool {
	if len(sign) != signLength {
		return false
	}
	mac, _ := h.macs.Get().(hash.Hash)
	if mac == nil {
		mac = hmac.New(sha256.New, []byte(h.opts.APISecret))
	}
	mac.Reset()
	mac.Write(body)
	var sum [sha256.Size]byte
	var want [signLength]byte
	hex.Encode(want[:], mac.Sum(sum[:0]))
	h.macs.Put(mac)
	return hmac.Equal(want[:], []byte(sign))
}
