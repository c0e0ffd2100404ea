#!lua
--[[
leave: a worker leaves its group at once; its shards are free for the others' next heartbeat.

KEYS[1]  group workers ZSET
KEYS[2]  group leases HASH
ARGV[1]  workerId

Returns: the number of shards freed
]]
redis.call('ZREM', KEYS[1], ARGV[1])
local freed = 0
local flat = redis.call('HGETALL', KEYS[2])
for i = 1, #flat, 2 do
  local sep = string.find(flat[i + 1], '|', 1, true)
  if string.sub(flat[i + 1], 1, sep - 1) == ARGV[1] then
    redis.call('HDEL', KEYS[2], flat[i])
    freed = freed + 1
  end
end
return freed
