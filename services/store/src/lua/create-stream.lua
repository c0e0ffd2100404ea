#!lua
--[[
create-stream: register a stream in the catalog, if its name is free.

Invariant: a name maps to at most one live stream; the catalog entry and the name index change
together. The caller has already created the shard state keys under the generation it passes (they
live in other slots, so they cannot be part of this script); if the name is taken it removes them.

The stream's tags (Kinesis CreateStream takes them) are written with it, so a stream never exists
without the tags it was created with.

KEYS[1]  the stream's catalog HASH   (sluice:{catalog}:stream:<name>)
KEYS[2]  the name index ZSET         (sluice:{catalog}:streams)
KEYS[3]  the stream's tags HASH      (sluice:{catalog}:tags:<name>)
ARGV[1]  name
ARGV[2]  t, the number of tag arguments that follow (2 per tag; 0: no tags)
ARGV[3 .. 2+t]  tag key, value, key, value, ...
ARGV[3+t ..]    field, value, field, value, ... of the stream's description (generation, shardCount, ...)

Returns: 1 created; 0 the name is taken (nothing written)
]]
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
local t = tonumber(ARGV[2])
local fields = {}
for i = 3 + t, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('ZADD', KEYS[2], 0, ARGV[1])
-- Tags of an earlier stream of this name went with it (delete-stream); start from none all the same.
redis.call('DEL', KEYS[3])
if t > 0 then
  local tags = {}
  for i = 3, 2 + t do tags[#tags + 1] = ARGV[i] end
  redis.call('HSET', KEYS[3], unpack(tags))
end
return 1
