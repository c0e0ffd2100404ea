#!lua
--[[
put-records: append a batch of records to ONE shard, after charging the shard's write token buckets.

Entry ids are assigned here, not by Redis: "<ms>-<ordinal>", where ms is Redis time (never less
than the previous record's, even if the clock steps back) and ordinal counts the shard's records
from 1. Ids still increase strictly, and the difference of two ordinals is the number of records
between them — consumer and archive lag in O(1).

Invariant: all-or-prefix. Records are considered in request order; the first record that does not
fit the buckets, and every record after it, is refused, so a shard never reorders one request's
records and a refused record is never written. The `#!lua` line makes Redis refuse the whole script
with OOM before it starts (noeviction), so there is no partial write under memory pressure either.
Time is Redis time (TIME), never a client's clock.

Entry fields: k (partition key, UTF-8), b (the data's bytes). Entries written by earlier versions
hold d (the data as base64 text) instead of b; readers take either.

Token buckets: records and bytes, refilled continuously at the shard's rate, capacity = rate * burst
seconds (Kinesis: 1 s). A record fits if >= 1 record token is left and the byte bucket holds its size;
a record larger than the whole byte capacity fits only into a full bucket and leaves it in debt, so
oversized-but-legal records are slowed, never refused forever.

Archive backlog: the state hash counts every byte ever written (wbytes), the archive hash every byte
the archiver has copied to S3 (bytes). When the difference plus a record's size would pass ARGV[2],
the record (and the rest) is refused: Redis is not asked to hold what S3 cannot take yet.

KEYS[1]  shard state HASH  (fields rps, bps, burst_s; bucket state rtok, btok, ts_us; last_ms, ordinal, wbytes)
KEYS[2]  shard log STREAM
KEYS[3]  shard archive HASH (field bytes: bytes archived so far)
ARGV[1]  n, the number of records
ARGV[2]  most unarchived bytes the shard may hold (0: no bound, archiving is off)
ARGV[3 + 3*(i-1)]  size of record i in bytes (decoded data + partition key), a decimal integer
ARGV[4 + 3*(i-1)]  partition key of record i
ARGV[5 + 3*(i-1)]  data of record i: its bytes (decoded, not base64)

Returns: { accepted, retryAfterMs, refusedBy, ms, ordinal }
  accepted      number of records written (a prefix of the batch)
  retryAfterMs  0 if all were written; else ms until the first refused record would fit
  refusedBy     0 none refused, 1 the write limits, 2 the archive backlog bound
  ms, ordinal   record i (1-based) has the stream entry id "<ms>-<ordinal + i>"; the ids are not
                returned one by one (a put of 500 records would carry 500 strings back)
Errors (as a negative first element, no write done):
  { -1 }  the shard state key is missing: the stream was deleted (or never existed)
]]
local state = redis.call('HMGET', KEYS[1], 'rps', 'bps', 'burst_s', 'rtok', 'btok', 'ts_us', 'last_ms', 'ordinal', 'wbytes')
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

local ms = math.floor(now / 1000)
local lastMs = tonumber(state[7]) or 0
if ms < lastMs then ms = lastMs end
local ordinal = tonumber(state[8]) or 0
local idPrefix = string.format('%.0f', ms) .. '-'

local written = tonumber(state[9]) or 0
local maxUnarchived = tonumber(ARGV[2])
local unarchived = 0
if maxUnarchived > 0 then
  unarchived = written - (tonumber(redis.call('HGET', KEYS[3], 'bytes')) or 0)
end

local n = tonumber(ARGV[1])
local firstOrdinal = ordinal
local accepted = 0
local retryMs = 0
local refusedBy = 0
for i = 1, n do
  local base = 3 + 3 * (i - 1)
  local size = tonumber(ARGV[base])
  if maxUnarchived > 0 and unarchived + size > maxUnarchived then
    -- The archiver frees room as it uploads; a second is about one of its passes.
    retryMs = 1000
    refusedBy = 2
    break
  end
  local need = size
  if need > bcap then need = bcap end
  if rtok < 1 or btok < need then
    local waitR = 0
    if rtok < 1 then waitR = (1 - rtok) / rps end
    local waitB = 0
    if btok < need then waitB = (need - btok) / bps end
    retryMs = math.ceil(math.max(waitR, waitB) * 1000)
    if retryMs < 1 then retryMs = 1 end
    refusedBy = 1
    break
  end
  rtok = rtok - 1
  btok = btok - size
  written = written + size
  unarchived = unarchived + size
  accepted = accepted + 1
  ordinal = ordinal + 1
  -- Lua prints whole numbers below 1e14 without an exponent: exact for any ordinal a shard reaches.
  redis.call('XADD', KEYS[2], idPrefix .. ordinal, 'k', ARGV[base + 1], 'b', ARGV[base + 2])
end
-- Lua numbers travel as integers in replies and as strings in HSET: keep the fraction of the buckets.
redis.call('HSET', KEYS[1], 'rtok', tostring(rtok), 'btok', tostring(btok), 'ts_us', string.format('%.0f', now),
  'last_ms', string.format('%.0f', ms), 'ordinal', string.format('%.0f', ordinal), 'wbytes', string.format('%.0f', written))
-- ms and ordinals are below 2^53 (see above): exact as integer replies.
return { accepted, retryMs, refusedBy, ms, firstOrdinal }
