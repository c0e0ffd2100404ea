#!lua flags=allow-oom
--[[
delete-stream: remove a stream from the catalog and queue its shard keys for removal.

Invariant: after this script the name is free (a create may reuse it at once), and the deleted
generation is on the purge list until every one of its shard keys is gone, so a crash between this
script and the key removal leaves work for the next purge pass, never orphaned data.
`allow-oom`: deleting must work when Redis is full; it frees far more than it adds.

KEYS[1]  the stream's catalog HASH
KEYS[2]  the name index ZSET
KEYS[3]  the purge LIST
KEYS[4]  the stream's tags HASH
ARGV[1]  name

The purge entry is "<name>|<generation>|<shardCount>" (keys.ts parsePurgeEntry reads it back).

Returns: { generation, shardCount } of the deleted stream; { 0, 0 } if there was no such stream
]]
local desc = redis.call('HMGET', KEYS[1], 'generation', 'shardCount')
if not desc[1] then
  return { 0, 0 }
end
redis.call('DEL', KEYS[1], KEYS[4])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('RPUSH', KEYS[3], ARGV[1] .. '|' .. desc[1] .. '|' .. desc[2])
return { tonumber(desc[1]), tonumber(desc[2]) }
