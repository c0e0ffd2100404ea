/**
 * Every Redis key Sluice uses is built here, and nowhere else.
 *
 * Layout (all under `sluice:`):
 *   sluice:{catalog}:streams              ZSET  stream names (score 0; listed by lex order)
 *   sluice:{catalog}:stream:<name>        HASH  one stream's description (see StreamRecordFields)
 *   sluice:{catalog}:tags:<name>          HASH  one stream's tags (removed with the stream)
 *   sluice:{catalog}:groups:<name>:<gen>  SET   consumer groups of one stream generation (purged with it)
 *   sluice:{catalog}:generation           STRING counter; each created stream gets the next value
 *   sluice:{catalog}:readiness            STRING written by readiness probes (expires after 60 s)
 *   sluice:{catalog}:apikeys              HASH  API key id -> JSON {name, scopes, salt, scrypt hash, createdAt}
 *   sluice:{catalog}:purge                LIST  "<name>|<generation>|<shardCount>" of deleted streams
 *                                               whose shard keys are still to be removed
 *   sluice:{<name>:<gen>:<shard>}:state   HASH  one shard's limits and token buckets; its presence
 *                                               means the shard is live (scripts refuse to write without it)
 *   sluice:{<name>:<gen>:<shard>}:log     STREAM one shard's records; entry id <ms>-<seq> is the
 *                                               record's sequence number (see @sluice/protocol)
 *   sluice:{<name>:<gen>:<shard>}:archive HASH  the S3 archive of the shard: cursor (last archived
 *                                               entry id), archived bytes, trimmed-below watermark,
 *                                               the archiver's fenced lease (see archive-*.lua)
 *   sluice:{<name>:<gen>:<shard>}:objects ZSET  the shard's archived objects (member: JSON of
 *                                               ArchivedObject), score: the ordinal of its last record
 *   sluice:{<name>:<gen>:<shard>}:objtime ZSET  the same members, score: its last record's ms
 *   sluice:{<name>:<gen>:g:<group>}:workers     ZSET  consumer group: workerId -> last heartbeat (ms)
 *   sluice:{<name>:<gen>:g:<group>}:leases      HASH  shard index -> "<workerId>|<fencing token>"
 *   sluice:{<name>:<gen>:g:<group>}:checkpoints HASH  shard index -> sequence number
 *   sluice:{<name>:<gen>:g:<group>}:meta        HASH  leaseTtlMs, shardCount, token counter
 *
 * A group's keys share one tag, so rebalancing all of a group's leases and checking a lease while
 * writing a checkpoint are each one script; group names match the stream-name pattern, and the
 * "g:" segment keeps a group's tag apart from every shard's.
 *
 * The catalog keys share the hash tag `{catalog}`, so stream creation and deletion are one Lua script
 * in one slot. Every key of one shard shares the tag `{<name>:<gen>:<shard>}`, so each shard script
 * touches one slot and the same code runs on Redis Cluster. The generation in the shard tag makes a
 * re-created stream's keys disjoint from a deleted one's that may still be being removed. Stream
 * names cannot contain `{`, `}`, `:` or `|` (they match ^[a-zA-Z0-9_.-]{1,128}$), so no name can
 * forge another's tag.
 */
export const KEY_PREFIX = 'sluice:'

const CATALOG = `${KEY_PREFIX}{catalog}:`

export const catalogKeys = {
  streams: `${CATALOG}streams`,
  generation: `${CATALOG}generation`,
  purge: `${CATALOG}purge`,
  readiness: `${CATALOG}readiness`,
  apiKeys: `${CATALOG}apikeys`,
  stream: (name: string): string => `${CATALOG}stream:${name}`,
  tags: (name: string): string => `${CATALOG}tags:${name}`,
  groups: (name: string, generation: number): string => `${CATALOG}groups:${name}:${generation}`,
} as const

export interface ShardKeys {
  /** HASH: limits and token-bucket state; exists while the shard is live. */
  state: string
  /** STREAM: the shard's records. */
  log: string
  /** HASH: archive cursor, archived bytes, trim watermark, archiver lease. */
  archive: string
  /** ZSET: archived objects by the ordinal of their last record. */
  objects: string
  /** ZSET: archived objects by the arrival ms of their last record. */
  objectsByTime: string
}

export function shardHashTag(stream: string, generation: number, shardIndex: number): string {
  return `{${stream}:${generation}:${shardIndex}}`
}

export function shardKeys(stream: string, generation: number, shardIndex: number): ShardKeys {
  const base = `${KEY_PREFIX}${shardHashTag(stream, generation, shardIndex)}:`
  return { state: `${base}state`, log: `${base}log`, archive: `${base}archive`, objects: `${base}objects`, objectsByTime: `${base}objtime` }
}

/** An entry of the purge list, as delete-stream.lua writes it (the two must agree). */
export function formatPurgeEntry(stream: string, generation: number, shardCount: number): string {
  return `${stream}|${generation}|${shardCount}`
}

/** Reads an entry of the purge list, as delete-stream.lua writes it: "<name>|<generation>|<shardCount>". */
export function parsePurgeEntry(entry: string): { stream: string; generation: number; shardCount: number } | null {
  const parts = entry.split('|')
  if (parts.length !== 3) return null
  const [stream, gen, count] = parts as [string, string, string]
  const generation = Number(gen)
  const shardCount = Number(count)
  if (!stream || !Number.isSafeInteger(generation) || !Number.isSafeInteger(shardCount)) return null
  return { stream, generation, shardCount }
}

export interface GroupKeys {
  workers: string
  leases: string
  checkpoints: string
  meta: string
}

export function groupKeys(stream: string, generation: number, group: string): GroupKeys {
  const base = `${KEY_PREFIX}{${stream}:${generation}:g:${group}}:`
  return { workers: `${base}workers`, leases: `${base}leases`, checkpoints: `${base}checkpoints`, meta: `${base}meta` }
}
