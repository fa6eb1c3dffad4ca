package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/rueidis"
)

// User records (engine.UserRecords) are one hash per user,
// <p>:user:r:<len>:<tenant><user>, with the fields "hash", "data" and
// "seen" (Unix milliseconds). They are not expired, as rows of a table
// would not be.
const (
	fieldHash = "hash"
	fieldData = "data"
	fieldSeen = "seen"
)

var errEmptyHash = errors.New("redis: AddAuthHash with an empty hash")

func (n names) userRecord(tenant, user string) string {
	return n.prefix + ":user:r:" + id(tenant, user)
}

// addHashScript stores the hash only when none is, and returns the stored
// one, in one step so that concurrent callers on any node agree.
var addHashScript = rueidis.NewLuaScript(`
redis.call('HSETNX', KEYS[1], 'hash', ARGV[1])
return redis.call('HGET', KEYS[1], 'hash')`)

// setSeenScript moves "seen" forward only.
var setSeenScript = rueidis.NewLuaScript(`
local cur = tonumber(redis.call('HGET', KEYS[1], 'seen') or '0')
if tonumber(ARGV[1]) > cur then redis.call('HSET', KEYS[1], 'seen', ARGV[1]) end
return 0`)

// setField writes a field of the user's record, or deletes it when v is
// empty.
func (e *Engine) setField(ctx context.Context, tenant, user, field, v string) error {
	if err := e.check(); err != nil {
		return err
	}
	k := e.n.userRecord(tenant, user)
	var err error
	if v == "" {
		err = e.client.Do(ctx, e.client.B().Hdel().Key(k).Field(field).Build()).Error()
	} else {
		err = e.client.Do(ctx, e.client.B().Hset().Key(k).FieldValue().FieldValue(field, v).Build()).Error()
	}
	if err != nil {
		return fmt.Errorf("redis: set user %s: %w", field, err)
	}
	return nil
}

// getField reads a field of the user's record; "" when absent.
func (e *Engine) getField(ctx context.Context, tenant, user, field string) (string, error) {
	if err := e.check(); err != nil {
		return "", err
	}
	v, err := e.client.Do(ctx, e.client.B().Hget().Key(e.n.userRecord(tenant, user)).Field(field).Build()).ToString()
	if rueidis.IsRedisNil(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("redis: get user %s: %w", field, err)
	}
	return v, nil
}

// SetAuthHash implements engine.UserRecords.
func (e *Engine) SetAuthHash(ctx context.Context, tenant, user, hash string) error {
	return e.setField(ctx, tenant, user, fieldHash, hash)
}

// AuthHash implements engine.UserRecords.
func (e *Engine) AuthHash(ctx context.Context, tenant, user string) (string, error) {
	return e.getField(ctx, tenant, user, fieldHash)
}

// AddAuthHash implements engine.UserRecords.
func (e *Engine) AddAuthHash(ctx context.Context, tenant, user, hash string) (string, error) {
	if err := e.check(); err != nil {
		return "", err
	}
	if hash == "" {
		return "", errEmptyHash
	}
	v, err := addHashScript.Exec(ctx, e.client, []string{e.n.userRecord(tenant, user)}, []string{hash}).ToString()
	if err != nil {
		return "", fmt.Errorf("redis: add auth hash: %w", err)
	}
	return v, nil
}

// SetUserData implements engine.UserRecords.
func (e *Engine) SetUserData(ctx context.Context, tenant, user, data string) error {
	return e.setField(ctx, tenant, user, fieldData, data)
}

// UserData implements engine.UserRecords.
func (e *Engine) UserData(ctx context.Context, tenant, user string) (string, error) {
	return e.getField(ctx, tenant, user, fieldData)
}

// SetLastSeen implements engine.UserRecords.
func (e *Engine) SetLastSeen(ctx context.Context, tenant, user string, t time.Time) error {
	if err := e.check(); err != nil {
		return err
	}
	err := setSeenScript.Exec(ctx, e.client, []string{e.n.userRecord(tenant, user)}, []string{strconv.FormatInt(t.UnixMilli(), 10)}).Error()
	if err != nil {
		return fmt.Errorf("redis: set last seen: %w", err)
	}
	return nil
}

// LastSeen implements engine.UserRecords.
func (e *Engine) LastSeen(ctx context.Context, tenant, user string) (time.Time, bool, error) {
	v, err := e.getField(ctx, tenant, user, fieldSeen)
	if err != nil || v == "" {
		return time.Time{}, false, err
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, false, errors.New("redis: stored last-seen time is not a number")
	}
	return time.UnixMilli(ms), true, nil
}
