#!lua
--[[
heartbeat: a worker of a consumer group says it is alive; leases are rebalanced; the worker learns
which shards it owns now.

Algorithm (all on Redis time):
  1. the worker's heartbeat time is recorded (it joins the group if new);
  2. workers silent for longer than the group's lease TTL are dropped, and their shards freed;
  3. fair share = ceil(shards / live workers);
  4. a worker above its fair share gives up at most ONE shard per heartbeat, and only while another
     live worker is below the fair share (no thrash);
  5. a worker below its fair share takes free shards, lowest index first, up to its share.
Every new ownership gets a fencing token from the group's counter, so tokens only ever grow: an
old owner's token never matches again.

Invariant: a shard has at most one owner; an owner is a live worker (heartbeat within the TTL).

KEYS[1]  group workers ZSET   (workerId -> last heartbeat, ms)
KEYS[2]  group leases HASH    (shardIndex -> "<workerId>|<token>")
KEYS[3]  group checkpoints HASH (shardIndex -> sequence number)
KEYS[4]  group meta HASH      (leaseTtlMs, shardCount, tokens, createdAt)
ARGV[1]  workerId
ARGV[2]  lease TTL in ms to use if the group is new
ARGV[3]  the stream's shard count

Returns: { leaseTtlMs, shardIndex_1, token_1, checkpoint_1 (or ""), ... } for the worker's shards
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(redis.call('HGET', KEYS[4], 'leaseTtlMs'))
if not ttl then
  ttl = tonumber(ARGV[2])
  redis.call('HSET', KEYS[4], 'leaseTtlMs', ttl, 'shardCount', ARGV[3], 'tokens', 0, 'createdAt', now)
end
local shardCount = tonumber(ARGV[3])
local me = ARGV[1]

redis.call('ZADD', KEYS[1], now, me)
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - ttl))
for i = 1, #dead do redis.call('ZREM', KEYS[1], dead[i]) end
local isDead = {}
for i = 1, #dead do isDead[dead[i]] = true end

-- Current owners; leases of dead workers are freed.
local owner = {}
local token = {}
local counts = {}
local flat = redis.call('HGETALL', KEYS[2])
for i = 1, #flat, 2 do
  local shard = tonumber(flat[i])
  local sep = string.find(flat[i + 1], '|', 1, true)
  local w = string.sub(flat[i + 1], 1, sep - 1)
  if isDead[w] or shard >= shardCount then
    redis.call('HDEL', KEYS[2], flat[i])
  else
    owner[shard] = w
    token[shard] = string.sub(flat[i + 1], sep + 1)
    counts[w] = (counts[w] or 0) + 1
  end
end

local live = redis.call('ZRANGE', KEYS[1], 0, -1)
local fair = math.ceil(shardCount / #live)
local mine = counts[me] or 0

if mine > fair then
  local someoneBelow = false
  for i = 1, #live do
    if (counts[live[i]] or 0) < fair then someoneBelow = true end
  end
  if someoneBelow then
    -- Give up the highest-numbered shard: the others keep their place.
    for shard = shardCount - 1, 0, -1 do
      if owner[shard] == me then
        redis.call('HDEL', KEYS[2], shard)
        owner[shard] = nil
        mine = mine - 1
        break
      end
    end
  end
elseif mine < fair then
  for shard = 0, shardCount - 1 do
    if mine >= fair then break end
    if owner[shard] == nil then
      local tk = redis.call('HINCRBY', KEYS[4], 'tokens', 1)
      redis.call('HSET', KEYS[2], shard, me .. '|' .. tk)
      owner[shard] = me
      token[shard] = tostring(tk)
      mine = mine + 1
    end
  end
end

local out = { ttl }
for shard = 0, shardCount - 1 do
  if owner[shard] == me then
    out[#out + 1] = shard
    out[#out + 1] = token[shard]
    out[#out + 1] = redis.call('HGET', KEYS[3], shard) or ''
  end
end
return out
