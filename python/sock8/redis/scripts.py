"""The Lua scripts: each change and its announcement happen in one atomic step, so every node
sees a channel's messages and presence changes in the order Redis applied them."""

from __future__ import annotations

__all__ = [
    "MISSED",
    "POSITION",
    "PRESENCE_LEAVE",
    "PRESENCE_REFRESH",
    "PRESENCE_STATE",
    "PRESENCE_SWEEP",
    "PRESENCE_UPDATE",
    "PUBLISH",
]

# A channel's stream state is one hash (`e` epoch, `o` last offset) that lives and expires with
# the stream: if it is gone (expired, flushed, a Redis restarted without persistence), the next
# reader or writer starts a new epoch, so an offset is never read against an older stream's.
_STREAM = """
local function stream(epoch, ttl)
  if redis.call('HSETNX', KEYS[3], 'e', epoch) == 1 and tonumber(ttl) > 0 then
    redis.call('EXPIRE', KEYS[3], ttl)
  end
  return redis.call('HGET', KEYS[3], 'e')
end
"""

PUBLISH = (
    _STREAM
    + """
-- KEYS: history stream, pub/sub channel, stream state
-- ARGV: timestamp, payload, history size, history ttl (seconds, 0: none), a new epoch
local epoch = stream(ARGV[5], ARGV[4])
local offset = redis.call('HINCRBY', KEYS[3], 'o', 1)
redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[3], '*', 't', ARGV[1], 'p', ARGV[2], 'o', offset)
if tonumber(ARGV[4]) > 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[4])
  redis.call('EXPIRE', KEYS[3], ARGV[4])
end
return redis.call(
  'PUBLISH', KEYS[2], 'o' .. offset .. ':' .. epoch .. ':' .. ARGV[1] .. ':' .. ARGV[2])
"""
)

POSITION = (
    _STREAM
    + """
-- KEYS: history stream, pub/sub channel, stream state
-- ARGV: a new epoch, history ttl; the epoch and the last offset
local epoch = stream(ARGV[1], ARGV[2])
return {epoch, tonumber(redis.call('HGET', KEYS[3], 'o') or '0')}
"""
)

MISSED = (
    _STREAM
    + """
-- KEYS: history stream, pub/sub channel, stream state
-- ARGV: a new epoch, history ttl, count; the epoch, the last offset, the newest entries
local epoch = stream(ARGV[1], ARGV[2])
local offset = tonumber(redis.call('HGET', KEYS[3], 'o') or '0')
return {epoch, offset, redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', ARGV[3])}
"""
)

# Expired members leave as if their connection had; an identity whose last member went is
# removed and its removal announced. Shared by the sweep and the state read.
_SWEEP = """
local function sweep(now)
  local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
  local removed = {}
  for _, member in ipairs(expired) do
    local identity = redis.call('HGET', KEYS[3], member)
    redis.call('HDEL', KEYS[3], member)
    if identity then
      if redis.call('HINCRBY', KEYS[4], identity, -1) <= 0 then
        redis.call('HDEL', KEYS[4], identity)
        if redis.call('HDEL', KEYS[1], identity) == 1 then
          redis.call('PUBLISH', KEYS[5], 'p{"i":' .. cjson.encode(identity) .. '}')
          removed[#removed + 1] = identity
        end
      end
    end
  end
  if #expired > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now) end
  return removed
end
"""

PRESENCE_UPDATE = """
-- KEYS: entries, expiry, membership, counts, pub/sub channel
-- ARGV: identity, member, entry read before ('' when none), new entry, expiry (ms),
--       key ttl (s), event
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current == false then current = '' end
if current ~= ARGV[3] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[4])
if redis.call('HSETNX', KEYS[3], ARGV[2], ARGV[1]) == 1 then
  redis.call('HINCRBY', KEYS[4], ARGV[1], 1)
end
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[2])
for i = 1, 4 do redis.call('EXPIRE', KEYS[i], ARGV[6]) end
redis.call('PUBLISH', KEYS[5], ARGV[7])
return 1
"""

PRESENCE_LEAVE = """
-- KEYS: entries, expiry, membership, counts, pub/sub channel
-- ARGV: identity, member, removal event
if redis.call('HDEL', KEYS[3], ARGV[2]) == 0 then return 0 end
redis.call('ZREM', KEYS[2], ARGV[2])
if redis.call('HINCRBY', KEYS[4], ARGV[1], -1) > 0 then return 0 end
redis.call('HDEL', KEYS[4], ARGV[1])
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('PUBLISH', KEYS[5], ARGV[3])
return 1
"""

PRESENCE_SWEEP = (
    _SWEEP
    + """
-- KEYS: entries, expiry, membership, counts, pub/sub channel
-- ARGV: now (ms); the identities removed
return sweep(ARGV[1])
"""
)

PRESENCE_STATE = (
    _SWEEP
    + """
-- KEYS: entries, expiry, membership, counts, pub/sub channel
-- ARGV: now (ms); what is left, as HGETALL
sweep(ARGV[1])
return redis.call('HGETALL', KEYS[1])
"""
)

PRESENCE_REFRESH = """
-- KEYS: entries, expiry, membership, counts
-- ARGV: expiry (ms), key ttl (s), members...; only members still present are refreshed
for i = 3, #ARGV do redis.call('ZADD', KEYS[2], 'XX', ARGV[1], ARGV[i]) end
for i = 1, 4 do redis.call('EXPIRE', KEYS[i], ARGV[2]) end
return 1
"""
