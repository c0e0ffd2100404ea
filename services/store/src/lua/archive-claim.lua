#!lua flags=allow-oom
--[[
archive-claim: take or renew the archiver lease of ONE shard.

One archiver at a time copies a shard to S3. The lease is fenced: every new holder gets the next
token, and archive-commit accepts a cursor move only from the current holder with the current token,
so an archiver that stalled past its lease (GC pause, network partition) can no longer move the
cursor when it wakes. Time is Redis time.

KEYS[1]  shard archive HASH (fields owner, token, expires_ms, tokens; cursor, bytes)
KEYS[2]  shard state HASH (its presence means the shard is live)
ARGV[1]  archiver id
ARGV[2]  lease time to live in ms

Returns: { 1, token, cursor, bytes }  held by the caller (cursor "" when nothing is archived yet)
         { 0, owner, remainingMs }     held by another archiver
         { -1 }                        the shard is gone (stream deleted)
]]
if redis.call('EXISTS', KEYS[2]) == 0 then
  return { -1 }
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local a = redis.call('HMGET', KEYS[1], 'owner', 'token', 'expires_ms', 'cursor', 'bytes')
local owner = a[1]
local expires = tonumber(a[3]) or 0
local token = a[2]
if owner and owner ~= ARGV[1] and expires > now then
  return { 0, owner, expires - now }
end
if owner ~= ARGV[1] or expires <= now or not token then
  token = tostring(redis.call('HINCRBY', KEYS[1], 'tokens', 1))
end
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'token', token, 'expires_ms', string.format('%.0f', now + tonumber(ARGV[2])))
return { 1, token, a[4] or '', a[5] or '0' }
