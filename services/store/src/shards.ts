/**
 * One shard's records: append (with write throttling) and read (with read throttling), each one Lua
 * script on the shard's slot. Callers pass the shard's keys from keys.ts.
 *
 * Appends are group-committed: the appends to one shard that arrive in the same turn of the event
 * loop (typically the requests one poll of the sockets delivered) travel as one put-records call,
 * and the calls for all shards leave in one write (inOneWrite). Each call is encoded by hand
 * (ScriptCall): for 1 KiB records that halves what this process spends per record in ioredis.
 * Under load that is several requests per script call instead of one, which is most of the cost
 * of a small put in both this process and Redis; alone, an append waits no timer, only the end of
 * the current turn. Each caller still gets exactly its own records' outcome: a call refuses a
 * suffix, so a caller's refused records are a suffix of its own, and an error or an unknown
 * outcome reaches every caller of that call.
 *
 * Large puts do not wait for the end of the turn: once the waiting appends reach FLUSH_NOW_BYTES,
 * they leave in a microtask, i.e. once the request that crossed the mark has appended to all its
 * shards. Redis then writes one large put while this process parses the next, where otherwise the
 * whole turn's puts would reach Redis at once and this process would wait for all of them.
 */
import { inspect } from 'node:util'
import { guarded } from './errors.js'
import { ScriptCall, inOneWrite, runScript } from './scripts.js'
import { observed, type StoreObserver } from './observe.js'
import type { SluiceRedis } from './connection.js'
import type { ShardKeys } from './keys.js'

export interface RecordToAppend {
  /** bytes charged to the write limit: decoded data + partition key */
  size: number
  partitionKey: string
  /**
   * The record's bytes, or standard padded base64 of them (checked by the caller: what a put carries,
   * decoded only as it is sent). Stored as bytes: a quarter less than base64 in Redis and its AOF.
   */
  data: Buffer | string
}

export type AppendResult =
  /**
   * entryIds[i] belongs to records[i]; records past entryIds.length were refused, by the shard's
   * write limits or because its unarchived backlog reached its bound.
   */
  | { kind: 'appended'; entryIds: string[]; retryAfterMs: number; refusedBy: 'limits' | 'archive-backlog' | null }
  | { kind: 'gone' }

export interface StoredEntry {
  entryId: string
  partitionKey: string
  /** base64 */
  data: string
}

export type ReadResult =
  | { kind: 'records'; entries: StoredEntry[]; tipEntryId: string }
  | { kind: 'throttled'; retryAfterMs: number }
  /** The start lies below `belowEntryId`: those records were trimmed after archiving, read S3. */
  | { kind: 'archived'; belowEntryId: string; tipEntryId: string }
  | { kind: 'gone' }

export interface ReadStart {
  kind: 'at' | 'after'
  entryId: string
}

/** A group-committed call stops growing at this many records or bytes (one append alone may be larger). */
const GROUP_MAX_RECORDS = 1000
const GROUP_MAX_BYTES = 1 << 20
/**
 * Waiting appends of this many bytes in all leave without waiting for the end of the turn. A put of
 * 100 records of 1 KiB crosses it alone; small puts (where sharing a call is what saves the most)
 * never do. Scenario b of the bench (8 puts of 100 x 1 KiB in flight), medians of interleaved runs:
 * 95k -> 106k records/s.
 */
const FLUSH_NOW_BYTES = 64 * 1024

interface PendingAppend {
  records: readonly RecordToAppend[]
  resolve(result: AppendResult): void
  reject(err: unknown): void
}

interface PendingGroup {
  keys: ShardKeys
  maxUnarchivedBytes: number
  appends: PendingAppend[]
  records: number
  bytes: number
}

function malformed(script: string, reply: unknown): Error {
  // inspect, bounded: a read's reply can hold megabytes of record data.
  return new Error(`${script} returned an unexpected reply: ${inspect(reply, { depth: 2, maxArrayLength: 8, maxStringLength: 64, breakLength: Infinity }).slice(0, 300)}`)
}

export class ShardStore {
  /** Appends waiting for the end of this turn, by shard (and backlog bound). */
  private pending = new Map<string, PendingGroup>()
  /** Bytes of the appends in `pending`. */
  private pendingBytes = 0
  private flushScheduled = false
  private flushQueued = false

  constructor(
    private readonly redis: SluiceRedis,
    private readonly observer?: StoreObserver,
  ) {}

  /**
   * Appends records in order; throttling refuses a suffix, never a record in the middle.
   * `maxUnarchivedBytes` bounds the shard's backlog not yet copied to S3 (0: archiving is off).
   */
  append(keys: ShardKeys, records: readonly RecordToAppend[], maxUnarchivedBytes = 0): Promise<AppendResult> {
    return new Promise<AppendResult>((resolve, reject) => {
      let bytes = 0
      for (const r of records) bytes += r.size
      const id = `${maxUnarchivedBytes} ${keys.log}`
      let group = this.pending.get(id)
      if (group && (group.records + records.length > GROUP_MAX_RECORDS || group.bytes + bytes > GROUP_MAX_BYTES)) {
        this.send(group)
        group = undefined
      }
      if (!group) this.pending.set(id, (group = { keys, maxUnarchivedBytes, appends: [], records: 0, bytes: 0 }))
      group.appends.push({ records, resolve, reject })
      group.records += records.length
      group.bytes += bytes
      this.pendingBytes += bytes
      if (this.pendingBytes >= FLUSH_NOW_BYTES && !this.flushQueued) {
        this.flushQueued = true
        queueMicrotask(() => {
          this.flushQueued = false
          this.flush()
        })
      }
      if (!this.flushScheduled) {
        this.flushScheduled = true
        setImmediate(() => {
          this.flushScheduled = false
          this.flush()
        })
      }
    })
  }

  private flush(): void {
    if (this.pending.size === 0) return
    const groups = this.pending
    this.pending = new Map()
    this.pendingBytes = 0
    inOneWrite(this.redis, () => {
      for (const group of groups.values()) this.send(group)
    })
  }

  /** One put-records call for a group; its reply is split back into each append's result. */
  private send(group: PendingGroup): void {
    const { keys, appends } = group
    // A group sent early (it was full) must not be sent again by the flush.
    const id = `${group.maxUnarchivedBytes} ${keys.log}`
    if (this.pending.get(id) === group) {
      this.pending.delete(id)
      this.pendingBytes -= group.bytes
    }
    this.appendNow(keys, group.records, appends, group.maxUnarchivedBytes).then(
      (result) => {
        if (result.kind === 'gone') {
          for (const a of appends) a.resolve(result)
          return
        }
        let offset = 0
        for (const a of appends) {
          const entryIds = result.entryIds.slice(offset, offset + a.records.length)
          offset += a.records.length
          const refused = entryIds.length < a.records.length
          a.resolve({ kind: 'appended', entryIds, retryAfterMs: refused ? result.retryAfterMs : 0, refusedBy: refused ? result.refusedBy : null })
        }
      },
      (err: unknown) => {
        for (const a of appends) a.reject(err)
      },
    )
  }

  private async appendNow(keys: ShardKeys, count: number, appends: readonly PendingAppend[], maxUnarchivedBytes: number): Promise<AppendResult> {
    const call = new ScriptCall('putRecords').key(keys.state).key(keys.log).key(keys.archive).ascii(count).ascii(maxUnarchivedBytes)
    for (const a of appends) {
      for (const r of a.records) {
        call.ascii(r.size).text(r.partitionKey)
        if (typeof r.data === 'string') call.base64(r.data)
        else call.bytes(r.data)
      }
    }
    const reply = await observed(this.observer, 'put-records', () => guarded(call.run(this.redis)))
    if (!Array.isArray(reply) || typeof reply[0] !== 'number') throw malformed('put-records', reply)
    if (reply[0] === -1) return { kind: 'gone' }
    const [accepted, retryAfterMs, refusedCode, ms, firstOrdinal] = reply as number[]
    if (reply.length !== 5 || !Number.isSafeInteger(ms) || !Number.isSafeInteger(firstOrdinal) || accepted! > count) throw malformed('put-records', reply)
    const refusedBy = refusedCode === 1 ? 'limits' : refusedCode === 2 ? 'archive-backlog' : null
    // The script numbers the records it wrote consecutively from firstOrdinal + 1, all in one ms.
    const entryIds = new Array<string>(accepted!)
    const prefix = `${ms}-`
    for (let i = 0; i < accepted!; i++) entryIds[i] = prefix + (firstOrdinal! + i + 1)
    return { kind: 'appended', entryIds, retryAfterMs: Number(retryAfterMs), refusedBy }
  }

  /** Reads up to `count` records from `start`, at most `maxBytes` (but at least one record). */
  async read(keys: ShardKeys, start: ReadStart, count: number, maxBytes: number): Promise<ReadResult> {
    const from = start.kind === 'at' ? start.entryId : `(${start.entryId}`
    const reply = await observed(this.observer, 'read-records', () =>
      guarded(runScript(this.redis, 'readRecords', [keys.state, keys.log, keys.archive, from, count, maxBytes], true)),
    )
    if (!Array.isArray(reply) || typeof reply[0] !== 'number') throw malformed('read-records', reply)
    if (reply[0] === -1) return { kind: 'gone' }
    if (reply[0] === 0) return { kind: 'throttled', retryAfterMs: Number(reply[1]) }
    if (reply[0] === 2) return { kind: 'archived', tipEntryId: String(reply[1]), belowEntryId: String(reply[2]) }
    const entries: StoredEntry[] = []
    for (let i = 2; i + 2 < reply.length; i += 3) {
      const id = reply[i]
      const key = reply[i + 1]
      const data = reply[i + 2]
      if (!Buffer.isBuffer(id) || !Buffer.isBuffer(key)) throw malformed('read-records', reply)
      let base64: string
      if (Buffer.isBuffer(data)) base64 = data.toString('base64')
      // Written by an earlier version: base64 text, spelt canonically as the bytes are (it may say YR==).
      else if (Array.isArray(data) && Buffer.isBuffer(data[0])) base64 = Buffer.from((data[0] as Buffer).toString('latin1'), 'base64').toString('base64')
      else throw malformed('read-records', reply)
      entries.push({ entryId: id.toString('latin1'), partitionKey: key.toString('utf8'), data: base64 })
    }
    return { kind: 'records', entries, tipEntryId: String(reply[1]) }
  }

  /**
   * The id of the last record ever appended ("0-0" if none): where LATEST starts. Redis keeps it
   * even when the entry itself has been trimmed, so LATEST never re-reads old records.
   */
  async lastEntryId(keys: ShardKeys): Promise<string> {
    const info = await observed(this.observer, 'last-entry-id', async () => {
      try {
        return (await guarded(this.redis.xinfo('STREAM', keys.log))) as unknown[]
      } catch (err) {
        // A shard nobody has written to has no stream key yet.
        if (err instanceof Error && /no such key/i.test(err.message)) return null
        throw err
      }
    })
    if (info === null) return '0-0'
    for (let i = 0; i + 1 < info.length; i += 2) {
      if (info[i] === 'last-generated-id') return String(info[i + 1])
    }
    throw malformed('XINFO STREAM', info)
  }

  /** The id of the oldest record still held ("0-0" when none). */
  async firstEntryId(keys: ShardKeys): Promise<string> {
    const first = (await observed(this.observer, 'first-entry-id', () => guarded(this.redis.xrange(keys.log, '-', '+', 'COUNT', 1)))) as Array<[string, string[]]>
    return first[0]?.[0] ?? '0-0'
  }

  /** Whether the shard is live (its state key exists). */
  async exists(keys: ShardKeys): Promise<boolean> {
    return (await guarded(this.redis.exists(keys.state))) === 1
  }
}
