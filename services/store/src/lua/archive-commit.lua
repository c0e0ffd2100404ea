#!lua flags=allow-oom
--[[
archive-commit: record that one S3 object now holds the shard's records after the cursor, and move
the cursor to its last record. Called only after the object's PUT succeeded and was verified.

Fenced: only the lease holder with the current token may move the cursor, and only from where it
believes the cursor is, so the objects of a shard chain without gap or overlap. The lease's expiry is
not checked here: every claim of a lapsed or other archiver's lease takes a new token (archive-claim),
so the token alone tells whether anyone claimed the shard since — and if nobody did, nobody else can
have moved it. Checking the expiry too would refuse, forever, every object whose upload takes longer
than the lease (a slow or throttling S3): the shard would never be archived again.

KEYS[1]  shard archive HASH (owner, token, expires_ms, cursor, bytes)
KEYS[2]  shard archived-objects ZSET (score: ordinal of the object's last record)
KEYS[3]  shard archived-objects-by-time ZSET (score: ms of the object's last record)
ARGV[1]  archiver id
ARGV[2]  its lease token
ARGV[3]  the cursor it started from ("" when nothing was archived yet)
ARGV[4]  the entry id of the object's last record (the new cursor)
ARGV[5]  bytes of the object's records (data decoded + partition key, as put-records counts them)
ARGV[6]  the object's description (JSON), the member of both ZSETs
ARGV[7]  ordinal of its last record
ARGV[8]  ms of its last record

Returns: { 1 } committed; { 0 } the lease is lost (claimed since, by another archiver or anew);
{ -2, cursor } the cursor is not where the caller started (it is stale)
]]
local a = redis.call('HMGET', KEYS[1], 'owner', 'token', 'cursor')
if a[1] ~= ARGV[1] or a[2] ~= ARGV[2] then
  return { 0 }
end
local cursor = a[3] or ''
if cursor ~= ARGV[3] then
  return { -2, cursor }
end
redis.call('HSET', KEYS[1], 'cursor', ARGV[4])
redis.call('HINCRBY', KEYS[1], 'bytes', ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[7], ARGV[6])
redis.call('ZADD', KEYS[3], ARGV[8], ARGV[6])
return { 1 }
