/**
 * The stream catalog: which streams exist, their shard count and limits. Creation and deletion are
 * one Lua script each on the catalog slot; shard keys live in their own slots and are created before
 * (and removed after) the catalog entry, so a stream visible in the catalog always has live shards.
 */
import { catalogKeys, formatPurgeEntry, groupKeys, parsePurgeEntry, shardKeys } from './keys.js'
import { guarded } from './errors.js'
import { runScript } from './scripts.js'
import { observed, type StoreObserver } from './observe.js'
import type { SluiceRedis } from './connection.js'

export interface ShardRates {
  /** records (writes) or reads per second */
  perSecond: number
  bytesPerSecond: number
}

export interface StoredStream {
  name: string
  generation: number
  shardCount: number
  retentionHours: number
  /** ms since the epoch, Redis time */
  createdAt: number
  writeLimits: ShardRates
  readLimits: ShardRates
}

export interface NewStream {
  name: string
  shardCount: number
  retentionHours: number
  writeLimits: ShardRates
  readLimits: ShardRates
  /** Tags written with the stream (checked by the caller). */
  tags?: Readonly<Record<string, string>>
}

/** Burst capacity of every token bucket, in seconds of its rate (Kinesis allows one second). */
export const BURST_SECONDS = 1

/** How many shard keys one pipeline step touches when creating or purging a stream. */
const SHARD_BATCH = 256

function toStoredStream(name: string, h: Record<string, string>): StoredStream | null {
  const generation = Number(h.generation)
  if (!Number.isSafeInteger(generation) || generation <= 0) return null
  return {
    name,
    generation,
    shardCount: Number(h.shardCount),
    retentionHours: Number(h.retentionHours),
    createdAt: Number(h.createdAt),
    writeLimits: { perSecond: Number(h.writeRecordsPerSecond), bytesPerSecond: Number(h.writeBytesPerSecond) },
    readLimits: { perSecond: Number(h.readsPerSecond), bytesPerSecond: Number(h.readBytesPerSecond) },
  }
}

async function forEachShardBatch(shardCount: number, work: (index: number) => Promise<unknown>): Promise<void> {
  for (let from = 0; from < shardCount; from += SHARD_BATCH) {
    const batch: Promise<unknown>[] = []
    for (let i = from; i < Math.min(shardCount, from + SHARD_BATCH); i++) batch.push(work(i))
    await Promise.all(batch)
  }
}

export class StreamCatalog {
  constructor(
    private readonly redis: SluiceRedis,
    private readonly observer?: StoreObserver,
  ) {}

  /** Redis time in ms: the one clock every process agrees on. */
  async redisTimeMs(): Promise<number> {
    const [sec, usec] = await guarded(this.redis.time())
    return Number(sec) * 1000 + Math.floor(Number(usec) / 1000)
  }

  /** Creates the stream; null if the name is taken (nothing is left behind then). */
  async create(input: NewStream): Promise<StoredStream | null> {
    return observed(this.observer, 'create-stream', () => this.createStream(input))
  }

  private async createStream(input: NewStream): Promise<StoredStream | null> {
    const generation = await guarded(this.redis.incr(catalogKeys.generation))
    const createdAt = await this.redisTimeMs()
    await guarded(
      forEachShardBatch(input.shardCount, (i) =>
        this.redis.hset(shardKeys(input.name, generation, i).state, {
          rps: input.writeLimits.perSecond,
          bps: input.writeLimits.bytesPerSecond,
          rrps: input.readLimits.perSecond,
          rbps: input.readLimits.bytesPerSecond,
          burst_s: BURST_SECONDS,
        }),
      ),
    )
    const fields: Record<string, string | number> = {
      generation,
      shardCount: input.shardCount,
      retentionHours: input.retentionHours,
      createdAt,
      writeRecordsPerSecond: input.writeLimits.perSecond,
      writeBytesPerSecond: input.writeLimits.bytesPerSecond,
      readsPerSecond: input.readLimits.perSecond,
      readBytesPerSecond: input.readLimits.bytesPerSecond,
    }
    const tagArgs = Object.entries(input.tags ?? {}).flat()
    const created = await guarded(
      runScript(this.redis, 'createStream', [
        catalogKeys.stream(input.name),
        catalogKeys.streams,
        catalogKeys.tags(input.name),
        input.name,
        tagArgs.length,
        ...tagArgs,
        ...Object.entries(fields).flat(),
      ]),
    )
    if (created !== 1) {
      await this.removeShardKeys(input.name, generation, input.shardCount)
      return null
    }
    const { tags: _tags, ...stored } = input
    return { ...stored, generation, createdAt }
  }

  async get(name: string): Promise<StoredStream | null> {
    const h = await observed(this.observer, 'get-stream', () => guarded(this.redis.hgetall(catalogKeys.stream(name))))
    return toStoredStream(name, h)
  }

  /** Streams in name order, starting after `after`; `more` says whether another page follows. */
  async list(after: string | undefined, limit: number): Promise<{ streams: StoredStream[]; more: boolean }> {
    const names = await guarded(
      this.redis.zrangebylex(catalogKeys.streams, after === undefined ? '-' : `(${after}`, '+', 'LIMIT', 0, limit + 1),
    )
    const more = names.length > limit
    const page = names.slice(0, limit)
    const hashes = await guarded(Promise.all(page.map((n) => this.redis.hgetall(catalogKeys.stream(n)))))
    const streams: StoredStream[] = []
    page.forEach((n, i) => {
      // A stream deleted between the two reads is simply not listed.
      const s = toStoredStream(n, hashes[i] ?? {})
      if (s) streams.push(s)
    })
    return { streams, more }
  }

  /** Deletes the stream: its name is free when this returns; false if there was none. */
  async delete(name: string): Promise<boolean> {
    return observed(this.observer, 'delete-stream', () => this.deleteStream(name))
  }

  private async deleteStream(name: string): Promise<boolean> {
    const reply = (await guarded(
      runScript(this.redis, 'deleteStream', [catalogKeys.stream(name), catalogKeys.streams, catalogKeys.purge, catalogKeys.tags(name), name]),
    )) as [number, number]
    const [generation, shardCount] = reply
    if (!generation) return false
    await this.purge(name, generation, shardCount)
    return true
  }

  /** Sets the stream's retention; false if there is no such stream. */
  async setRetention(name: string, retentionHours: number): Promise<boolean> {
    const updated = await observed(this.observer, 'update-stream', () =>
      guarded(runScript(this.redis, 'updateStream', [catalogKeys.stream(name), 'retentionHours', retentionHours])),
    )
    return updated === 1
  }

  /** Adds or overwrites tags: 'added', 'missing' (no such stream) or 'too-many' (nothing written). */
  async addTags(name: string, tags: Readonly<Record<string, string>>, maxTags: number): Promise<'added' | 'missing' | 'too-many'> {
    const reply = await observed(this.observer, 'add-tags', () =>
      guarded(runScript(this.redis, 'addTags', [catalogKeys.stream(name), catalogKeys.tags(name), maxTags, ...Object.entries(tags).flat()])),
    )
    return reply === 1 ? 'added' : reply === 0 ? 'missing' : 'too-many'
  }

  async removeTags(name: string, keys: readonly string[]): Promise<void> {
    if (keys.length) await guarded(this.redis.hdel(catalogKeys.tags(name), ...keys))
  }

  /** The stream's tags, sorted by key. */
  async tags(name: string): Promise<Array<{ key: string; value: string }>> {
    const h = await guarded(this.redis.hgetall(catalogKeys.tags(name)))
    return Object.entries(h)
      .map(([key, value]) => ({ key, value }))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  }

  /** Removes the shard keys of every deleted stream still on the purge list (after a crash, say). */
  async purgePending(): Promise<number> {
    const entries = await guarded(this.redis.lrange(catalogKeys.purge, 0, -1))
    let purged = 0
    for (const entry of entries) {
      const p = parsePurgeEntry(entry)
      if (p) {
        await this.purge(p.stream, p.generation, p.shardCount)
        purged++
      } else {
        await guarded(this.redis.lrem(catalogKeys.purge, 1, entry))
      }
    }
    return purged
  }

  private async purge(name: string, generation: number, shardCount: number): Promise<void> {
    await this.removeShardKeys(name, generation, shardCount)
    const groupsKey = catalogKeys.groups(name, generation)
    for (const group of await guarded(this.redis.smembers(groupsKey))) {
      const keys = groupKeys(name, generation, group)
      await guarded(Promise.all([keys.workers, keys.leases, keys.checkpoints, keys.meta].map((k) => this.redis.unlink(k))))
    }
    await guarded(this.redis.unlink(groupsKey))
    await guarded(this.redis.lrem(catalogKeys.purge, 0, formatPurgeEntry(name, generation, shardCount)))
  }

  /**
   * The state key goes first: once it is gone, scripts refuse to write or read the shard, so no
   * reader sees records of a deleted stream. UNLINK frees the (possibly large) logs off Redis' main thread.
   */
  private async removeShardKeys(name: string, generation: number, shardCount: number): Promise<void> {
    await guarded(
      forEachShardBatch(shardCount, async (i) => {
        const keys = shardKeys(name, generation, i)
        await this.redis.unlink(keys.state)
        await this.redis.unlink(keys.log)
        await this.redis.unlink(keys.archive, keys.objects, keys.objectsByTime)
      }),
    )
  }
}
