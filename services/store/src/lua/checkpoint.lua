#!lua
--[[
checkpoint: record how far a group has processed a shard, if the caller still owns the shard.

Invariant: only the current owner, with the current fencing token, while its heartbeat is within
the lease TTL, moves a checkpoint; a checkpoint never moves backwards.

KEYS[1]  group workers ZSET
KEYS[2]  group leases HASH
KEYS[3]  group checkpoints HASH
KEYS[4]  group meta HASH
ARGV[1]  shardIndex
ARGV[2]  lease token
ARGV[3]  sequence number (fixed width, so string order is numeric order)

Returns: 1 written (or already there); -1 lease lost (not the owner's token, or the owner expired);
         -2 the checkpoint would move backwards (nothing written)
]]
local lease = redis.call('HGET', KEYS[2], ARGV[1])
if not lease then return -1 end
local sep = string.find(lease, '|', 1, true)
local w = string.sub(lease, 1, sep - 1)
if string.sub(lease, sep + 1) ~= ARGV[2] then return -1 end
local ttl = tonumber(redis.call('HGET', KEYS[4], 'leaseTtlMs'))
local seen = tonumber(redis.call('ZSCORE', KEYS[1], w))
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if not seen or not ttl or seen < now - ttl then return -1 end
local current = redis.call('HGET', KEYS[3], ARGV[1])
if current and current > ARGV[3] then return -2 end
redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
return 1
