package user

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/redis/rueidis"
)

// RedisStore keeps user records in Redis, so that every node of a cluster
// sees the same auth hashes, user data and last-seen times. One hash per
// user: <prefix>:user:r:<len(tenant)>:<tenant><user> with the fields
// "hash", "data" and "seen" (Unix milliseconds). Records are not expired,
// as rows of a table would not be.
type RedisStore struct {
	client rueidis.Client
	prefix string
}

// NewRedisStore returns a store on client (owned by the caller) with keys
// under prefix.
func NewRedisStore(client rueidis.Client, prefix string) *RedisStore {
	return &RedisStore{client: client, prefix: prefix}
}

var _ Store = (*RedisStore)(nil)

const (
	fieldHash = "hash"
	fieldData = "data"
	fieldSeen = "seen"
)

func (s *RedisStore) key(tenant, user string) string {
	return s.prefix + ":user:r:" + strconv.Itoa(len(tenant)) + ":" + tenant + user
}

// addHash stores the hash only when none is, and returns the stored one,
// in one step so that concurrent callers on any node agree.
var addHash = rueidis.NewLuaScript(`
redis.call('HSETNX', KEYS[1], 'hash', ARGV[1])
return redis.call('HGET', KEYS[1], 'hash')`)

// setSeen moves "seen" forward only.
var setSeen = rueidis.NewLuaScript(`
local cur = tonumber(redis.call('HGET', KEYS[1], 'seen') or '0')
if tonumber(ARGV[1]) > cur then redis.call('HSET', KEYS[1], 'seen', ARGV[1]) end
return 0`)

// set writes a field, or deletes it when v is empty.
func (s *RedisStore) set(ctx context.Context, tenant, user, field, v string) error {
	k := s.key(tenant, user)
	if v == "" {
		return s.client.Do(ctx, s.client.B().Hdel().Key(k).Field(field).Build()).Error()
	}
	return s.client.Do(ctx, s.client.B().Hset().Key(k).FieldValue().FieldValue(field, v).Build()).Error()
}

// get reads a field; "" when absent.
func (s *RedisStore) get(ctx context.Context, tenant, user, field string) (string, error) {
	v, err := s.client.Do(ctx, s.client.B().Hget().Key(s.key(tenant, user)).Field(field).Build()).ToString()
	if rueidis.IsRedisNil(err) {
		return "", nil
	}
	return v, err
}

// SetAuthHash implements Store.
func (s *RedisStore) SetAuthHash(ctx context.Context, tenant, user, hash string) error {
	return s.set(ctx, tenant, user, fieldHash, hash)
}

// AuthHash implements Store.
func (s *RedisStore) AuthHash(ctx context.Context, tenant, user string) (string, error) {
	return s.get(ctx, tenant, user, fieldHash)
}

// AddAuthHash implements Store.
func (s *RedisStore) AddAuthHash(ctx context.Context, tenant, user, hash string) (string, error) {
	if hash == "" {
		return "", errors.New("user: AddAuthHash with an empty hash")
	}
	return addHash.Exec(ctx, s.client, []string{s.key(tenant, user)}, []string{hash}).ToString()
}

// SetUserData implements Store.
func (s *RedisStore) SetUserData(ctx context.Context, tenant, user, data string) error {
	return s.set(ctx, tenant, user, fieldData, data)
}

// UserData implements Store.
func (s *RedisStore) UserData(ctx context.Context, tenant, user string) (string, error) {
	return s.get(ctx, tenant, user, fieldData)
}

// SetLastSeen implements Store.
func (s *RedisStore) SetLastSeen(ctx context.Context, tenant, user string, t time.Time) error {
	return setSeen.Exec(ctx, s.client, []string{s.key(tenant, user)}, []string{strconv.FormatInt(t.UnixMilli(), 10)}).Error()
}

// LastSeen implements Store.
func (s *RedisStore) LastSeen(ctx context.Context, tenant, user string) (time.Time, bool, error) {
	v, err := s.get(ctx, tenant, user, fieldSeen)
	if err != nil || v == "" {
		return time.Time{}, false, err
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, false, errors.New("user: stored last-seen time is not a number")
	}
	return time.UnixMilli(ms), true, nil
}
