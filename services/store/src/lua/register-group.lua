#!lua
--[[
register-group: record that a consumer group exists for a live stream generation, so deleting the
stream also removes the group's keys.

Invariant: groups are registered only for a stream generation that is live; a group of a deleted
stream is never registered again after its purge.

KEYS[1]  the stream's catalog HASH
KEYS[2]  the stream generation's group SET
ARGV[1]  the generation the caller routes to
ARGV[2]  group name

Returns: 1 registered (or already); 0 the stream, or that generation of it, is gone
]]
if redis.call('HGET', KEYS[1], 'generation') ~= ARGV[1] then
  return 0
end
redis.call('SADD', KEYS[2], ARGV[2])
return 1
