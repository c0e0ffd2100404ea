#!lua flags=allow-oom
--[[
archive-trim: drop a shard's oldest records from Redis, never one that is not archived yet.

The caller picks the point from the hot window (time and bytes); this script caps it at the record
after the archive cursor, whatever it is asked, so an unarchived record is never trimmed. The
watermark `below` tells read-records that reads below it must go to the archive.

KEYS[1]  shard archive HASH (cursor, below)
KEYS[2]  shard log STREAM
ARGV[1]  trim every entry whose id is below this "<ms>-<seq>"

Returns: { removed, belowId } (belowId "" when nothing was ever trimmed)
]]
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local function less(aMs, aSeq, bMs, bSeq)
  return aMs < bMs or (aMs == bMs and aSeq < bSeq)
end
local a = redis.call('HMGET', KEYS[1], 'cursor', 'below')
local below = a[2] or ''
if not a[1] or a[1] == '' then
  return { 0, below }
end
local cMs, cSeq = parse(a[1])
-- Ordinals count records one by one, so nothing lies between the cursor and "<cursor ms>-<seq + 1>".
local limitMs, limitSeq = cMs, cSeq + 1
local wantMs, wantSeq = parse(ARGV[1])
if less(limitMs, limitSeq, wantMs, wantSeq) then
  wantMs, wantSeq = limitMs, limitSeq
end
if below ~= '' then
  local bMs, bSeq = parse(below)
  if not less(bMs, bSeq, wantMs, wantSeq) then
    return { 0, below }
  end
end
local id = string.format('%.0f', wantMs) .. '-' .. string.format('%.0f', wantSeq)
-- `allow-oom`: trimming is how memory is freed. The watermark is set first, so no read can miss
-- the trimmed records.
redis.call('HSET', KEYS[1], 'below', id)
local removed = redis.call('XTRIM', KEYS[2], 'MINID', id)
return { removed, id }
