package cppcomet

import (
	"hash/maphash"
	"sync"
)

// userLockStripes is the number of locks user transitions are spread over.
const userLockStripes = 64

// userLocks serializes, per user, "register the session and count the
// user's sessions" and "close the session and count again", so that two
// connections of one user opening or closing at the same moment on this
// node announce online or offline exactly once (§3.6). Across nodes the
// count comes from the core; two nodes changing the same user within the
// same few milliseconds may both announce (see the README).
type userLocks struct {
	seed    maphash.Seed
	stripes [userLockStripes]sync.Mutex
}

func newUserLocks() *userLocks { return &userLocks{seed: maphash.MakeSeed()} }

// lock locks the stripe of (tenant, user) and returns its unlock; an
// anonymous connection ("" user) has nothing to serialize.
func (l *userLocks) lock(tenant, user string) func() {
	if user == "" {
		return func() {}
	}
	m := &l.stripes[maphash.String(l.seed, tenant+"\x00"+user)%userLockStripes]
	m.Lock()
	return m.Unlock
}
