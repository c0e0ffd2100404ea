/**
 * Reads of the part of a shard that lives only in S3. The object index in Redis says which object
 * holds a position; objects are downloaded once, decoded, and kept in an LRU cache bounded in bytes,
 * and readers of the same object at the same time share one download.
 */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { LRUCache } from 'lru-cache'
import { entryIdFromSequenceNumber } from '@sluice/protocol'
import { ArchiveIndex, decodeObject, entryMs, entryOrdinal, type ArchivedObject } from './archive.js'
import type { SluiceRedis } from './connection.js'
import type { ShardKeys } from './keys.js'
import type { ReadStart, StoredEntry } from './shards.js'

/** S3 did not answer (or answered an error) for an archived object: the read may be retried. */
export class ArchiveUnavailableError extends Error {
  override readonly name = 'ArchiveUnavailableError'
}

interface DecodedObject {
  entries: StoredEntry[]
  ordinals: number[]
  ms: number[]
  bytes: number
}

export interface ArchiveReadResult {
  entries: StoredEntry[]
  /** the object the entries came from (null when the archive holds nothing from the start on) */
  object: ArchivedObject | null
}

function firstAtOrAfter(sorted: readonly number[], value: number): number {
  let lo = 0
  let hi = sorted.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (sorted[mid]! < value) lo = mid + 1
    else hi = mid
  }
  return lo
}

export class ArchiveReader {
  private readonly index: ArchiveIndex
  private readonly cache: LRUCache<string, DecodedObject>

  constructor(
    redis: SluiceRedis,
    private readonly s3: S3Client,
    private readonly bucket: string,
    cacheBytes: number,
  ) {
    this.index = new ArchiveIndex(redis)
    this.cache = new LRUCache<string, DecodedObject>({
      maxSize: Math.max(1, cacheBytes),
      sizeCalculation: (o) => Math.max(1, o.bytes),
      // An object larger than the whole cache is still served, just not kept.
      maxEntrySize: Number.MAX_SAFE_INTEGER,
      fetchMethod: (key) => this.download(key),
    })
  }

  /** The id of the oldest record the shard's archive still lists ("0-0" when it lists none). */
  async oldestEntryId(keys: ShardKeys): Promise<string> {
    return (await this.index.objectFromOrdinal(keys, 0))?.firstEntryId ?? '0-0'
  }

  /**
   * Up to `count` records (and about `maxBytes`, at least one) from `start`, out of the one object
   * that holds it. A start written as "<ms>-0" (a timestamp, e.g. AT_TIMESTAMP or the retention
   * floor) is looked up by time, any other by the record's ordinal.
   */
  async read(keys: ShardKeys, start: ReadStart, count: number, maxBytes: number): Promise<ArchiveReadResult> {
    const ms = entryMs(start.entryId)
    const ordinal = entryOrdinal(start.entryId)
    const byTime = start.kind === 'at' && ordinal === 0 && ms > 0
    const wanted = start.kind === 'after' ? ordinal + 1 : ordinal
    const object = byTime ? await this.index.objectFromTime(keys, ms) : await this.index.objectFromOrdinal(keys, wanted)
    if (!object) return { entries: [], object: null }
    const decoded = await this.cache.fetch(object.key)
    if (!decoded) throw new ArchiveUnavailableError(`archive object ${object.key} could not be read`)
    let i = byTime ? firstAtOrAfter(decoded.ms, ms) : firstAtOrAfter(decoded.ordinals, wanted)
    const entries: StoredEntry[] = []
    let bytes = 0
    for (; i < decoded.entries.length && entries.length < count; i++) {
      const e = decoded.entries[i]!
      const size = e.partitionKey.length + Math.floor((e.data.length * 3) / 4)
      if (entries.length > 0 && bytes + size > maxBytes) break
      bytes += size
      entries.push(e)
    }
    return { entries, object }
  }

  private async download(key: string): Promise<DecodedObject> {
    let body: Uint8Array
    try {
      const res = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }))
      if (!res.Body) throw new Error('empty body')
      body = await res.Body.transformToByteArray()
    } catch (err) {
      throw new ArchiveUnavailableError(`cannot read archive object ${key} from S3: ${(err as Error).message}`, { cause: err })
    }
    const records = decodeObject(body)
    const out: DecodedObject = { entries: new Array(records.length), ordinals: new Array(records.length), ms: new Array(records.length), bytes: 0 }
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!
      const position = entryIdFromSequenceNumber(r.sequenceNumber)
      if (!position) throw new Error(`archive object ${key} holds a bad sequence number`)
      out.entries[i] = { entryId: position.entryId, partitionKey: r.partitionKey, data: r.data }
      out.ordinals[i] = entryOrdinal(position.entryId)
      out.ms[i] = entryMs(position.entryId)
      out.bytes += r.data.length + r.partitionKey.length + 120
    }
    return out
  }
}
