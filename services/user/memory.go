package user

import (
	"context"
	"sync"
	"time"
)

// MemoryStore is the single-node Store. Records live as long as the
// process; like a database table they are not expired.
type MemoryStore struct {
	mu    sync.Mutex
	users map[userKey]*record
}

type userKey struct{ tenant, user string }

type record struct {
	authHash string
	data     string
	lastSeen time.Time // zero: never seen
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{users: make(map[userKey]*record)}
}

var _ Store = (*MemoryStore)(nil)

// update runs f on the user's record under the lock, creating it first,
// and drops the record again when f left it empty.
func (m *MemoryStore) update(tenant, user string, f func(r *record)) {
	k := userKey{tenant, user}
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.users[k]
	if r == nil {
		r = &record{}
	}
	f(r)
	if *r == (record{}) {
		delete(m.users, k)
		return
	}
	m.users[k] = r
}

// read returns a copy of the user's record (zero when absent).
func (m *MemoryStore) read(tenant, user string) record {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r := m.users[userKey{tenant, user}]; r != nil {
		return *r
	}
	return record{}
}

// SetAuthHash implements Store.
func (m *MemoryStore) SetAuthHash(_ context.Context, tenant, user, hash string) error {
	m.update(tenant, user, func(r *record) { r.authHash = hash })
	return nil
}

// AuthHash implements Store.
func (m *MemoryStore) AuthHash(_ context.Context, tenant, user string) (string, error) {
	return m.read(tenant, user).authHash, nil
}

// AddAuthHash implements Store.
func (m *MemoryStore) AddAuthHash(_ context.Context, tenant, user, hash string) (string, error) {
	var stored string
	m.update(tenant, user, func(r *record) {
		if r.authHash == "" {
			r.authHash = hash
		}
		stored = r.authHash
	})
	return stored, nil
}

// SetUserData implements Store.
func (m *MemoryStore) SetUserData(_ context.Context, tenant, user, data string) error {
	m.update(tenant, user, func(r *record) { r.data = data })
	return nil
}

// UserData implements Store.
func (m *MemoryStore) UserData(_ context.Context, tenant, user string) (string, error) {
	return m.read(tenant, user).data, nil
}

// SetLastSeen implements Store.
func (m *MemoryStore) SetLastSeen(_ context.Context, tenant, user string, t time.Time) error {
	m.update(tenant, user, func(r *record) {
		if t.After(r.lastSeen) {
			r.lastSeen = t
		}
	})
	return nil
}

// LastSeen implements Store.
func (m *MemoryStore) LastSeen(_ context.Context, tenant, user string) (time.Time, bool, error) {
	t := m.read(tenant, user).lastSeen
	return t, !t.IsZero(), nil
}
