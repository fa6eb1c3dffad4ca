package redis

import "github.com/redis/rueidis"

// The Lua scripts below are the engine's only writes, so that every change
// to a channel, a user or the node list is atomic. They read the time from
// Redis (TIME), so expiries do not depend on the clocks of the nodes.

// The helpers below are pasted in front of the scripts that use them, and
// only those: Lua builds a closure for every local function each time a
// script runs, and the publish script runs once per event.

// luaNow reads the time from Redis.
const luaNow = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`

// luaVarint encodes a protobuf varint, for appending fields to an encoded
// Event.
const luaVarint = `
local function varint(n)
  local out = {}
  while n >= 128 do
    out[#out + 1] = string.char(n % 128 + 128)
    n = math.floor(n / 128)
  end
  out[#out + 1] = string.char(n)
  return table.concat(out)
end
`

// luaTrimExpired drops expired history entries, "<expiry ms>:<encoded
// event>" (oldest first), from the list's old end.
const luaTrimExpired = `
local function trim_expired(list, now)
  while true do
    local head = redis.call('LINDEX', list, 0)
    if not head then return end
    local i = string.find(head, ':', 1, true)
    if not i or tonumber(string.sub(head, 1, i - 1)) > now then return end
    redis.call('LPOP', list)
  end
end
`

// luaExtend keeps a key at least ttl ms longer; it never shortens it.
const luaExtend = `
local function extend(key, ttl)
  local left = redis.call('PTTL', key)
  if left >= 0 and left < ttl then
    redis.call('PEXPIRE', key, ttl)
  end
end
`

// luaPresence holds the helpers of the presence scripts. Presence entries
// are "<len>:<user><encoded session>".
const luaPresence = luaNow + `
local function user_of(v)
  local i = string.find(v, ':', 1, true)
  local n = tonumber(string.sub(v, 1, i - 1))
  return string.sub(v, i + 1, i + n)
end

local function decr(hash, field)
  if redis.call('HINCRBY', hash, field, -1) <= 0 then
    redis.call('HDEL', hash, field)
  end
end

-- Drops the channel's sessions whose node stopped refreshing them.
local function clean_presence(s, x, u, now)
  local dead = redis.call('ZRANGEBYSCORE', x, '-inf', now)
  for _, sid in ipairs(dead) do
    local v = redis.call('HGET', s, sid)
    if v then
      redis.call('HDEL', s, sid)
      decr(u, user_of(v))
    end
    redis.call('ZREM', x, sid)
  end
end

local function drop_if_empty(s, x, u, chans, member)
  if redis.call('HLEN', s) == 0 then
    redis.call('ZREM', chans, member)
    redis.call('DEL', s, x, u)
  end
end
`

// publishScript assigns the next offset and the epoch, keeps the event,
// and publishes it.
//
// KEYS: meta hash {e: epoch, o: top offset}, history list.
// ARGV: encoded event without offset and epoch, size, TTL ms, meta TTL ms,
// epoch to use if the channel has none, pub/sub channel.
// Returns {offset, epoch}.
//
// The offset (field 14) and epoch (field 15) are appended to the encoded
// event as protobuf fields: a decoder takes the last value of a field, so
// the stored and published bytes decode to the complete event without Go
// having to encode it a second time.
var publishScript = rueidis.NewLuaScript(luaNow + luaVarint + luaTrimExpired + luaExtend + luaPublish + `
return {offset, epoch}
`)

// luaPublish is the body of publishScript, which publishQueuedScript shares:
// it leaves offset, epoch and payload (the event as published) in locals.
const luaPublish = `
local meta, list = KEYS[1], KEYS[2]
local size, ttl, meta_ttl = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local epoch = redis.call('HGET', meta, 'e')
if not epoch then
  epoch = ARGV[5]
  redis.call('HSET', meta, 'e', epoch)
  redis.call('PEXPIRE', meta, math.max(ttl, meta_ttl))
  redis.call('DEL', list) -- left from an expired epoch
end
local offset = 0
local pos = ''
if size > 0 and ttl > 0 then
  offset = redis.call('HINCRBY', meta, 'o', 1)
  pos = '\112' .. varint(offset)
end
local payload = ARGV[1] .. pos .. '\122' .. varint(#epoch) .. epoch
if offset > 0 then
  local now = now_ms()
  redis.call('RPUSH', list, (now + ttl) .. ':' .. payload)
  redis.call('LTRIM', list, -size, -1)
  trim_expired(list, now)
  redis.call('PEXPIRE', list, ttl)
end
extend(meta, math.max(ttl, meta_ttl))
redis.call('PUBLISH', ARGV[6], payload)
`

// publishQueuedScript is publishScript that also appends the event as
// published to webhook queues, bounded, in the same atomic step.
//
// KEYS: as publishScript, then queue and counter of each target, in pairs.
// ARGV: as publishScript, then the queue bound (<= 0: none), then one flag
// per target ("1": the endpoint takes the event's data).
// Returns {offset, epoch, dropped per target...}.
//
// A queue entry is "<id>:" then a zero byte, the flag and the event as
// published; a body pushed by WebhookPush never starts with a zero byte.
var publishQueuedScript = rueidis.NewLuaScript(luaNow + luaVarint + luaTrimExpired + luaExtend + luaPublish + `
local max = tonumber(ARGV[7])
local out = {offset, epoch}
for k = 1, (#KEYS - 2) / 2 do
  local q = KEYS[2 * k + 1]
  local id = redis.call('INCR', KEYS[2 * k + 2])
  local n = redis.call('RPUSH', q, id .. ':\0' .. ARGV[7 + k] .. payload)
  local d = 0
  if max > 0 and n > max then
    redis.call('LTRIM', q, n - max, -1)
    d = n - max
  end
  out[k + 2] = d
end
return out
`)

// historyScript reads a channel's history.
//
// KEYS: meta hash, history list.
// ARGV: meta TTL ms, epoch to use if the channel has none, "1" if a since
// position is given, since offset, since epoch, limit, "1" for reverse.
// Returns {epoch, top, ok, entries...}: ok is 0 when the since position is
// gone; entries are the selected history entries, oldest first.
//
// A read creates the channel's meta when missing, so the epoch a reader
// sees is the one later publishes use. The list holds the consecutive
// offsets top-len+1 … top, so offsets map to list indexes by arithmetic.
var historyScript = rueidis.NewLuaScript(luaNow + luaTrimExpired + luaExtend + `
local meta, list = KEYS[1], KEYS[2]
local meta_ttl = tonumber(ARGV[1])
local epoch = redis.call('HGET', meta, 'e')
if not epoch then
  epoch = ARGV[2]
  redis.call('HSET', meta, 'e', epoch)
  redis.call('DEL', list)
  redis.call('PEXPIRE', meta, meta_ttl)
else
  extend(meta, meta_ttl)
end
trim_expired(list, now_ms())
local top = tonumber(redis.call('HGET', meta, 'o') or '0')
local first = top - redis.call('LLEN', list) + 1
local start = first
if ARGV[3] == '1' then
  local since = tonumber(ARGV[4])
  if ARGV[5] ~= epoch or since > top or since + 1 < first then
    return {epoch, top, 0}
  end
  start = since + 1
end
local lo, hi = start, top
local limit = tonumber(ARGV[6])
if limit > 0 and top + 1 - start > limit then
  if ARGV[7] == '1' then lo = top - limit + 1 else hi = start + limit - 1 end
end
local res = {epoch, top, 1}
if lo <= hi then
  for _, v in ipairs(redis.call('LRANGE', list, lo - first, hi - first)) do
    res[#res + 1] = v
  end
end
return res
`)

// presenceAddScript puts a session in a channel, or refreshes it. With
// ARGV[6] = "claim" a live entry of the same id is left as it is and 0
// returned (ClaimPresence).
//
// KEYS: sessions hash, expiry sorted set, users hash, channel index.
// ARGV: session id, user, entry, TTL ms, index member[, "claim"].
// Returns 1 when the entry was written.
var presenceAddScript = rueidis.NewLuaScript(luaPresence + `
local s, x, u, chans = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local sid, user, ttl = ARGV[1], ARGV[2], tonumber(ARGV[4])
local now = now_ms()
clean_presence(s, x, u, now)
local prev = redis.call('HGET', s, sid)
if prev and ARGV[6] == 'claim' then
  return 0
end
if not prev then
  redis.call('HINCRBY', u, user, 1)
elseif user_of(prev) ~= user then
  decr(u, user_of(prev))
  redis.call('HINCRBY', u, user, 1)
end
redis.call('HSET', s, sid, ARGV[3])
redis.call('ZADD', x, now + ttl, sid)
redis.call('ZADD', chans, 0, ARGV[5])
for i = 1, 4 do redis.call('PEXPIRE', KEYS[i], ttl) end
return 1
`)

// presenceRemoveScript takes a session out of a channel.
//
// KEYS: as presenceAddScript. ARGV: session id, index member.
var presenceRemoveScript = rueidis.NewLuaScript(luaPresence + `
local s, x, u, chans = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local prev = redis.call('HGET', s, ARGV[1])
if prev then
  redis.call('HDEL', s, ARGV[1])
  decr(u, user_of(prev))
end
redis.call('ZREM', x, ARGV[1])
clean_presence(s, x, u, now_ms())
drop_if_empty(s, x, u, chans, ARGV[2])
return 1
`)

// presenceReadScript drops expired sessions, then returns the channel's
// entries (ARGV[2] = "list") or {sessions, users} (ARGV[2] = "stats").
//
// KEYS: as presenceAddScript. ARGV: index member, mode.
var presenceReadScript = rueidis.NewLuaScript(luaPresence + `
local s, x, u, chans = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
clean_presence(s, x, u, now_ms())
drop_if_empty(s, x, u, chans, ARGV[1])
if ARGV[2] == 'list' then
  return redis.call('HVALS', s)
end
local users = redis.call('HLEN', u)
if redis.call('HEXISTS', u, '') == 1 then
  users = users - 1 -- anonymous sessions are not a user
end
return {redis.call('HLEN', s), users}
`)

// userAddScript records a user's session until TTL ms from now (and
// refreshes it). Returns 1 when the user had no other live session: the
// session is the user's first in the cluster.
//
// KEYS: the user's session sorted set (id → expiry ms). ARGV: session id, TTL ms.
var userAddScript = rueidis.NewLuaScript(luaNow + `
local now = now_ms()
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local before = redis.call('ZCARD', KEYS[1])
local added = redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if added == 1 and before == 0 then return 1 end
return 0
`)

// userRemoveScript forgets a user's session. Returns 1 when it was
// recorded (expired or not) and no live session of the user is left: it
// was the user's last in the cluster.
//
// KEYS: the user's session sorted set. ARGV: session id.
var userRemoveScript = rueidis.NewLuaScript(luaNow + `
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms())
if removed == 1 and redis.call('ZCARD', KEYS[1]) == 0 then return 1 end
return 0
`)

// userCountScript counts a user's unexpired sessions.
var userCountScript = rueidis.NewLuaScript(luaNow + `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms())
return redis.call('ZCARD', KEYS[1])
`)

// enqueueScript appends to a user's queue and keeps the newest max.
//
// KEYS: queue list. ARGV: encoded event, max, TTL ms.
var enqueueScript = rueidis.NewLuaScript(`
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`)

// drainScript returns a user's queue and deletes it.
var drainScript = rueidis.NewLuaScript(`
local q = redis.call('LRANGE', KEYS[1], 0, -1)
redis.call('DEL', KEYS[1])
return q
`)

// nodeUpdateScript stores a node's info until TTL ms from now.
//
// KEYS: nodes hash, expiry sorted set. ARGV: node id, encoded info, TTL ms.
var nodeUpdateScript = rueidis.NewLuaScript(luaNow + `
local now = now_ms()
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[1])
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)) do
  redis.call('HDEL', KEYS[1], id)
  redis.call('ZREM', KEYS[2], id)
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1
`)

// nodesScript drops expired nodes and returns the others' info.
var nodesScript = rueidis.NewLuaScript(luaNow + `
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now_ms())) do
  redis.call('HDEL', KEYS[1], id)
  redis.call('ZREM', KEYS[2], id)
end
return redis.call('HVALS', KEYS[1])
`)

// positionScript reads a channel's current position, creating its epoch
// when it has none (as historyScript does), so that a subscriber knows where
// it starts and can later recover what it missed from there.
//
// KEYS: meta hash, history list. ARGV: meta TTL ms, epoch to use if the
// channel has none. Returns {epoch, top}.
var positionScript = rueidis.NewLuaScript(luaExtend + `
local meta, list, meta_ttl = KEYS[1], KEYS[2], tonumber(ARGV[1])
local epoch = redis.call('HGET', meta, 'e')
if not epoch then
  epoch = ARGV[2]
  redis.call('HSET', meta, 'e', epoch)
  redis.call('DEL', list)
  redis.call('PEXPIRE', meta, meta_ttl)
else
  extend(meta, meta_ttl)
end
return {epoch, tonumber(redis.call('HGET', meta, 'o') or '0')}
`)
