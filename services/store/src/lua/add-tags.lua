#!lua
--[[
add-tags: add or overwrite tags of an existing stream, within the per-stream tag limit.

Invariant: a stream never has more than ARGV[1] tags, and tags never outlive their stream (the
tags hash is written only while the stream exists; delete-stream removes it).

KEYS[1]  the stream's catalog HASH
KEYS[2]  the stream's tags HASH
ARGV[1]  the most tags a stream may have
ARGV[2..] key, value, key, value, ...

Returns: 1 added; 0 no such stream; -1 the stream would have more than ARGV[1] tags (nothing written)
]]
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
local count = redis.call('HLEN', KEYS[2])
for i = 2, #ARGV, 2 do
  if redis.call('HEXISTS', KEYS[2], ARGV[i]) == 0 then count = count + 1 end
end
if count > tonumber(ARGV[1]) then
  return -1
end
local fields = {}
for i = 2, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[2], unpack(fields))
return 1
