#!lua
--[[
update-stream: change fields of an existing stream's catalog entry (e.g. retentionHours).

Invariant: never creates an entry: a stream deleted meanwhile stays deleted.

KEYS[1]  the stream's catalog HASH
ARGV     field, value, field, value, ...

Returns: 1 updated; 0 no such stream
]]
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
