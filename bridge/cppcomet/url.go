package cppcomet

import (
	"strconv"
	"strings"
)

// URL prefixes comet-server accepts (§1). Everything after the prefix is
// the parameter string; there is no `?`, so the raw request URI is parsed,
// never r.URL.Query().
var urlPrefixes = []string{"//comet-server/ws/", "/comet-server/ws/", "//ws/", "/ws/"}

// Limits of URL values (§2).
const (
	MaxSessionLen = 600 // longer `sesion` values never authenticate
	MaxUUIDLen    = 32  // USER_UUID_LEN; longer uuids are cut
)

// Params are the connection parameters of a comet URL.
type Params struct {
	Session string // `sesion`: auth hash or JWT; may be "" or "undefined"
	UserID  int64  // `myid`; 0 when absent, negative or not a number
	DevID   int64  // `devid` (tenant); 0 when absent, negative or not a number
	Major   int    // `v` major version; < 4 turns the version shim on
	Minor   int
	UUID    string // `uuid`, at most MaxUUIDLen bytes; "" when absent
}

// Tenant is the canonical tenant of the dev id: its decimal form, with dev
// 0 (the open-source server's only dev) being the default tenant "".
func (p Params) Tenant() string {
	if p.DevID <= 0 {
		return ""
	}
	return strconv.FormatInt(p.DevID, 10)
}

// Generation is the client API generation a page speaks, told by the `v`
// URL parameter. Frames differ by generation (§3.1; seed "before 4.0"):
type Generation uint8

const (
	// Gen4 (v 4 and above): the frames of comet-server 4.x.
	Gen4 Generation = iota
	// Gen3 (v 2 to 3): comet-server's <4 version shim plus the pre-4.0
	// field names the seed lists: `event_name`, `pipe_name`, `api_data`,
	// `data` always a string; pipe_log replays carry `marker` and `history`.
	Gen3
	// Gen1 (v below 2): as Gen3, but `data` is the base64 of
	// {"data":<value>,"event_name":<event>} and there is no top-level
	// `event_name`, which is what JS clients before 2.0 decode.
	Gen1
)

// Generation tells the client's API generation from its version.
func (p Params) Generation() Generation {
	switch {
	case p.Major >= legacyMajorVersion:
		return Gen4
	case p.Major >= base64MajorVersion:
		return Gen3
	default:
		return Gen1
	}
}

// Legacy reports whether the client needs the <4 version shim (§3.1).
func (p Params) Legacy() bool { return p.Generation() != Gen4 }

// ParseURL reads the parameters from a raw request URI such as
// "/ws/sesion=KEY&myid=5&devid=0&v=4.08&uuid=U&api=js". Values are taken
// by position, not by name (§2): the n-th `&`-separated part holds the n-th
// parameter, its value is what follows the part's first `=`. Only `uuid=`
// is recognised by name. It never panics; a malformed URL gives the
// *HandshakeError comet-server would send.
func ParseURL(requestURI string) (Params, error) {
	rest := requestURI
	for _, p := range urlPrefixes {
		if after, ok := strings.CutPrefix(requestURI, p); ok {
			rest = after
			break
		}
	}
	parts := strings.Split(rest, "&")
	var p Params

	session, ok := value(parts, 0)
	if !ok {
		return p, errNoSession
	}
	p.Session = session

	uid, ok := value(parts, 1)
	if !ok {
		return p, errNoUserID
	}
	p.UserID = readID(uid)

	dev, ok := value(parts, 2)
	if !ok {
		return p, errNoDevID
	}
	p.DevID = readID(dev)

	version, ok := value(parts, 3)
	if !ok {
		return p, errNoVersion
	}
	major, minor, ok := readVersion(version)
	if !ok {
		return p, errNoVersion
	}
	p.Major, p.Minor = major, minor

	if len(parts) > 4 {
		if uuid, found := strings.CutPrefix(parts[4], "uuid="); found {
			if len(uuid) > MaxUUIDLen {
				uuid = uuid[:MaxUUIDLen]
			}
			p.UUID = uuid
		}
	}
	return p, nil
}

// value returns what follows the first `=` of part i; ok is false when the
// part is missing or has no `=` (comet-server counts `=` signs).
func value(parts []string, i int) (string, bool) {
	if i >= len(parts) {
		return "", false
	}
	_, v, found := strings.Cut(parts[i], "=")
	return v, found
}

// readID reads a user or dev id: a positive decimal integer, anything else
// ("", "undefined", "-3", "12abc") is 0, as comet-server treats it.
func readID(s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || !isDigits(s) {
		return 0
	}
	return n
}

// readVersion reads "MAJOR.MINOR", both decimal integers.
func readVersion(s string) (major, minor int, ok bool) {
	a, b, found := strings.Cut(s, ".")
	if !found || !isDigits(a) || !isDigits(b) || len(a) > 6 || len(b) > 6 {
		return 0, 0, false
	}
	major, _ = strconv.Atoi(a)
	minor, _ = strconv.Atoi(b)
	return major, minor, true
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
