#!lua flags=allow-oom
--[[
read-records: read a range of ONE shard's records after charging the shard's read buckets.

Kinesis semantics for read limits: each read costs one read token (5/s by default) and is refused
while none is left; the bytes a read returns are charged after the fact and may drive the byte bucket
into debt, so a large read throttles the reads that follow it until the debt is paid back.
`allow-oom`: reading must keep working when Redis is full (the only write is a small HSET on an
existing hash). Time is Redis time.

Records below the archive's trim watermark are no longer here: a read that starts below it is
answered with { 2, ... } and the caller reads the S3 archive instead (the read is charged here).

KEYS[1]  shard state HASH  (fields rrps, rbps, burst_s; bucket state rrtok, rbtok, rts_us)
KEYS[2]  shard log STREAM
KEYS[3]  shard archive HASH (field below: every entry with a smaller id was trimmed after archiving)
ARGV[1]  start of the range for XRANGE: "<ms>-<seq>" inclusive or "(<ms>-<seq>" exclusive
ARGV[2]  max records (COUNT)
ARGV[3]  max bytes (data + partition key, data counted decoded) in one answer; at least one record
         is always returned if there is one, so a single large record cannot block a reader

Returns: { 1, tipId, id_1, key_1, data_1, ..., id_n, key_n, data_n }
  data_i the record's bytes (entry field b); for a record written by an earlier version (field d,
         base64 text) a one-element array holding that text
  tipId  the id of the shard's newest record, even when it was trimmed ("0-0" when none was ever
         written); lets the caller compute lag
or { 2, tipId, belowId }: the start lies in the trimmed part, read the archive
Errors (first element <= 0, nothing read):
  { -1 }               the shard state key is missing: the stream was deleted
  { 0, retryAfterMs }  throttled
]]
local state = redis.call('HMGET', KEYS[1], 'rrps', 'rbps', 'burst_s', 'rrtok', 'rbtok', 'rts_us')
local rps = tonumber(state[1])
local bps = tonumber(state[2])
if not rps or not bps then
  return { -1 }
end
local burst = tonumber(state[3]) or 1
local rcap = rps * burst
local bcap = bps * burst

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local rtok = tonumber(state[4])
local btok = tonumber(state[5])
local last = tonumber(state[6])
if not rtok or not btok or not last then
  rtok = rcap
  btok = bcap
else
  local elapsed = now - last
  if elapsed < 0 then elapsed = 0 end
  rtok = math.min(rcap, rtok + elapsed * rps / 1000000)
  btok = math.min(bcap, btok + elapsed * bps / 1000000)
end

if rtok < 1 or btok <= 0 then
  local waitR = 0
  if rtok < 1 then waitR = (1 - rtok) / rps end
  local waitB = 0
  if btok <= 0 then waitB = (1 - btok) / bps end
  local retryMs = math.ceil(math.max(waitR, waitB) * 1000)
  if retryMs < 1 then retryMs = 1 end
  redis.call('HSET', KEYS[1], 'rrtok', tostring(rtok), 'rbtok', tostring(btok), 'rts_us', string.format('%.0f', now))
  return { 0, retryMs }
end

local maxCount = tonumber(ARGV[2])
local maxBytes = tonumber(ARGV[3])
local tip = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
local tipId = '0-0'
if tip[1] then
  tipId = tip[1][1]
else
  -- Every record trimmed to the archive: the newest one's id is still in the state (put-records
  -- writes "<last_ms>-<ordinal>"), so a reader of the archive is told how far behind it is.
  local newest = redis.call('HMGET', KEYS[1], 'last_ms', 'ordinal')
  if newest[1] and newest[2] and tonumber(newest[2]) > 0 then tipId = newest[1] .. '-' .. newest[2] end
end

local below = redis.call('HGET', KEYS[3], 'below')
if below then
  local startId = ARGV[1]
  local exclusive = string.sub(startId, 1, 1) == '('
  if exclusive then startId = string.sub(startId, 2) end
  local sMs, sSeq = string.match(startId, '^(%d+)-(%d+)$')
  local bMs, bSeq = string.match(below, '^(%d+)-(%d+)$')
  sMs, sSeq, bMs, bSeq = tonumber(sMs), tonumber(sSeq), tonumber(bMs), tonumber(bSeq)
  -- After "<ms>-<seq>" the first record there can be is "<ms>-<seq + 1>".
  if exclusive then sSeq = sSeq + 1 end
  if sMs < bMs or (sMs == bMs and sSeq < bSeq) then
    redis.call('HSET', KEYS[1], 'rrtok', tostring(rtok - 1), 'rbtok', tostring(btok), 'rts_us', string.format('%.0f', now))
    return { 2, tipId, below }
  end
end

-- Fetch in batches sized from what was seen so far, so a read of large records never pulls
-- `maxCount` of them into memory only to keep the first few under the byte budget.
local out = { 1, tipId }
local bytes = 0
local taken = 0
local from = ARGV[1]
local batch = math.min(maxCount, 16)
local full = false
while not full and taken < maxCount do
  local entries = redis.call('XRANGE', KEYS[2], from, '+', 'COUNT', batch)
  for i = 1, #entries do
    local e = entries[i]
    local fields = e[2]
    local key, data, size
    for j = 1, #fields, 2 do
      local name = fields[j]
      if name == 'k' then
        key = fields[j + 1]
      elseif name == 'b' then
        data = fields[j + 1]
        size = #data
      elseif name == 'd' then
        -- written by an earlier version: base64 text, whose length * 3/4 is close enough for a response budget
        data = { fields[j + 1] }
        size = math.floor(#fields[j + 1] * 3 / 4)
      end
    end
    size = size + #key
    if taken > 0 and bytes + size > maxBytes then
      full = true
      break
    end
    bytes = bytes + size
    taken = taken + 1
    out[#out + 1] = e[1]
    out[#out + 1] = key
    out[#out + 1] = data
    from = '(' .. e[1]
  end
  if #entries < batch then break end
  local average = bytes / taken
  batch = math.min(maxCount - taken, math.max(1, math.floor((maxBytes - bytes) / average) + 1), 1000)
end

rtok = rtok - 1
btok = btok - bytes
redis.call('HSET', KEYS[1], 'rrtok', tostring(rtok), 'rbtok', tostring(btok), 'rts_us', string.format('%.0f', now))
return out
