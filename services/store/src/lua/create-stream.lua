#!lua
--[[
create-stream: register a stream in the catalog, if its name is free.

Invariant: a name maps to at most one live stream; the catalog entry and the name index change
together. The caller has already created the shard state keys under the generation it passes (they
live in other slots, so they cannot be part of this script); if the name is taken it removes them.

KEYS[1]  the stream's catalog HASH   (sluice:{catalog}:stream:<name>)
KEYS[2]  the name index ZSET         (sluice:{catalog}:streams)
ARGV[1]  name
ARGV[2..] field, value, field, value, ... of the stream's description (generation, shardCount, ...)

Returns: 1 created; 0 the name is taken (nothing written)
]]
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
local fields = {}
for i = 2, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('ZADD', KEYS[2], 0, ARGV[1])
return 1
