package memory

import (
	"context"
	"errors"
	"sync"
	"time"
)

var errEmptyHash = errors.New("memory: AddAuthHash with an empty hash")

// records keeps user records (engine.UserRecords). Like rows of a table
// they live as long as the process and are not swept. The zero value is
// ready to use.
type records struct {
	mu sync.Mutex
	m  map[key]*record // key{tenant, user id}
}

type record struct {
	authHash string
	data     string
	lastSeen int64 // Unix milliseconds; 0: never seen
}

// update runs f on the user's record under the lock, creating it first,
// and drops the record again when f left it empty.
func (r *records) update(k key, f func(x *record)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	x := r.m[k]
	if x == nil {
		x = &record{}
	}
	f(x)
	if *x == (record{}) {
		delete(r.m, k)
		return
	}
	if r.m == nil {
		r.m = map[key]*record{}
	}
	r.m[k] = x
}

// read returns a copy of the user's record (zero when absent).
func (r *records) read(k key) record {
	r.mu.Lock()
	defer r.mu.Unlock()
	if x := r.m[k]; x != nil {
		return *x
	}
	return record{}
}

// SetAuthHash implements engine.UserRecords.
func (e *Engine) SetAuthHash(_ context.Context, tenant, user, hash string) error {
	if err := e.check(); err != nil {
		return err
	}
	e.records.update(key{tenant, user}, func(x *record) { x.authHash = hash })
	return nil
}

// AuthHash implements engine.UserRecords.
func (e *Engine) AuthHash(_ context.Context, tenant, user string) (string, error) {
	if err := e.check(); err != nil {
		return "", err
	}
	return e.records.read(key{tenant, user}).authHash, nil
}

// AddAuthHash implements engine.UserRecords.
func (e *Engine) AddAuthHash(_ context.Context, tenant, user, hash string) (string, error) {
	if err := e.check(); err != nil {
		return "", err
	}
	if hash == "" {
		return "", errEmptyHash
	}
	var stored string
	e.records.update(key{tenant, user}, func(x *record) {
		if x.authHash == "" {
			x.authHash = hash
		}
		stored = x.authHash
	})
	return stored, nil
}

// SetUserData implements engine.UserRecords.
func (e *Engine) SetUserData(_ context.Context, tenant, user, data string) error {
	if err := e.check(); err != nil {
		return err
	}
	e.records.update(key{tenant, user}, func(x *record) { x.data = data })
	return nil
}

// UserData implements engine.UserRecords.
func (e *Engine) UserData(_ context.Context, tenant, user string) (string, error) {
	if err := e.check(); err != nil {
		return "", err
	}
	return e.records.read(key{tenant, user}).data, nil
}

// SetLastSeen implements engine.UserRecords. Times are kept to the
// millisecond, as the Redis engine keeps them.
func (e *Engine) SetLastSeen(_ context.Context, tenant, user string, t time.Time) error {
	if err := e.check(); err != nil {
		return err
	}
	ms := t.UnixMilli()
	e.records.update(key{tenant, user}, func(x *record) {
		if ms > x.lastSeen {
			x.lastSeen = ms
		}
	})
	return nil
}

// LastSeen implements engine.UserRecords.
func (e *Engine) LastSeen(_ context.Context, tenant, user string) (time.Time, bool, error) {
	if err := e.check(); err != nil {
		return time.Time{}, false, err
	}
	ms := e.records.read(key{tenant, user}).lastSeen
	if ms == 0 {
		return time.Time{}, false, nil
	}
	return time.UnixMilli(ms), true, nil
}
