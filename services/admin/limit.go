package admin

import (
	"net"
	"sync"
	"time"
)

// Limits bound failed logins. A key (an account name, or a client address)
// that reaches its maximum within Window is refused, even with the right
// credentials, until the window that began with its first failure ends.
// The counts are per node: each node protects its own accounts' bcrypt
// work, and a cluster of N nodes allows at most N times the rate.
type Limits struct {
	PerAccount int           // failures per account name (0: 5)
	PerAddress int           // failures per client address (0: 20)
	Window     time.Duration // (0: one minute)
}

func (l Limits) withDefaults() Limits {
	if l.PerAccount <= 0 {
		l.PerAccount = 5
	}
	if l.PerAddress <= 0 {
		l.PerAddress = 20
	}
	if l.Window <= 0 {
		l.Window = time.Minute
	}
	return l
}

// maxTracked bounds the keys kept; beyond it, windows that have ended are
// dropped before a new key is added.
const maxTracked = 100_000

type window struct {
	start time.Time
	n     int
}

// failures counts failed logins per account and per address.
type failures struct {
	lim Limits
	mu  sync.Mutex
	m   map[string]*window
}

func newFailures(l Limits) *failures {
	return &failures{lim: l.withDefaults(), m: map[string]*window{}}
}

func accountKey(user string) string { return "u\x00" + user }

// addressKey drops the port: a client gets a new one per connection.
func addressKey(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		addr = host
	}
	return "a\x00" + addr
}

// blocked reports whether the account or the address has used up its failures.
func (f *failures) blocked(now time.Time, user, addr string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.over(now, accountKey(user), f.lim.PerAccount) || (addr != "" && f.over(now, addressKey(addr), f.lim.PerAddress))
}

func (f *failures) over(now time.Time, key string, max int) bool {
	w := f.m[key]
	return w != nil && now.Sub(w.start) < f.lim.Window && w.n >= max
}

// record counts one failure for the account and the address.
func (f *failures) record(now time.Time, user, addr string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.add(now, accountKey(user))
	if addr != "" {
		f.add(now, addressKey(addr))
	}
}

func (f *failures) add(now time.Time, key string) {
	w := f.m[key]
	if w == nil || now.Sub(w.start) >= f.lim.Window {
		if w == nil && len(f.m) >= maxTracked {
			f.sweep(now)
		}
		w = &window{start: now}
		f.m[key] = w
	}
	w.n++
}

func (f *failures) sweep(now time.Time) {
	for k, w := range f.m {
		if now.Sub(w.start) >= f.lim.Window {
			delete(f.m, k)
		}
	}
}
