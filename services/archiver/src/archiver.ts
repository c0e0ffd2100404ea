/**
 * The archiver: copies every shard of every stream from Redis to S3, in sequence order, each record
 * exactly once, then lets Redis trim what is both archived and outside the hot window; deletes
 * objects past the stream's retention.
 *
 * Per shard, per pass:
 *   1. claim the shard's fenced lease (archive-claim.lua); a shard another archiver holds is skipped;
 *   2. read Redis time and the records after the cursor (one MULTI), cut the next object with
 *      `objectEnd` (deterministic: the same cursor always gives the same object), PUT it with
 *      Content-MD5, confirm its ETag and size, then move the cursor (archive-commit.lua, fenced);
 *      repeat while a closed object is ready;
 *   3. trim Redis below the hot window (archive-trim.lua caps it at the cursor);
 *   4. delete objects whose records are all past retention.
 * S3 or Redis failing: the shard backs off (jittered, growing) and is tried again; nothing moves the
 * cursor but a verified upload, so nothing is lost and nothing is trimmed unarchived.
 */
import { hostname } from 'node:os'
import { CreateBucketCommand, DeleteObjectCommand, HeadBucketCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { base64EncodedLength } from '@sluice/protocol'
import {
  ArchiveIndex,
  StreamCatalog,
  entryMs,
  entryOrdinal,
  ObjectCutter,
  ObjectWriter,
  shardKeys,
  type EntryToArchive,
  type ObjectLimits,
  type S3Settings,
  type ShardKeys,
  type SluiceRedis,
  type StoredStream,
} from '@sluice/store'
import type { Logger } from 'pino'
import type { ArchiverMetrics } from './metrics.js'

export interface ArchiverOptions {
  redis: SluiceRedis
  s3: S3Client
  settings: S3Settings
  /** unique per process; the lease owner name */
  id?: string
  objects: ObjectLimits
  leaseTtlMs: number
  /** records stay in Redis this long after they arrived, archived or not */
  hotRetentionMs: number
  /** …and at most this many bytes of archived records per shard (0: no byte bound) */
  hotMaxBytes: number
  /** pause between passes over all shards */
  intervalMs: number
  /** shards archived at once */
  concurrency?: number
  /** NDJSON of open objects kept between passes, over all shards (default KEPT_TEXT_BYTES) */
  keptTextBytes?: number
  metrics: ArchiverMetrics
  log: Logger
  /** The time the hot window and retention are measured against (default: Redis time); for tests. */
  clock?: () => Promise<number>
}

export interface PassSummary {
  shards: number
  held: number
  objects: number
  records: number
  trimmed: number
  expired: number
  failures: number
}

interface ShardRef {
  stream: StoredStream
  shardIndex: number
  keys: ShardKeys
  label: { stream: string; shard: string }
}

interface Backoff {
  failures: number
  until: number
}

/**
 * Records read from Redis per XRANGE while cutting an object: at most READ_BATCH, and no more than an
 * object holds at the sizes seen so far — records of 1 MiB are not read a thousand at a time (each
 * object would pull the whole backlog out of Redis). The first read of a call, sizes unknown, asks
 * for FIRST_READ.
 */
const READ_BATCH = 1000
const FIRST_READ = 4
/** An NDJSON line's bytes besides the record's data and key: member names, sequence number, time. */
const NDJSON_LINE_OVERHEAD = 120
/**
 * NDJSON of open objects kept between passes, over all shards: a shard's next object is then read
 * from Redis once, not measured in one pass and read again in the pass that closes it. Beyond this,
 * objects are measured only and read again when they close (the memory stays bounded however many
 * shards there are).
 */
const KEPT_TEXT_BYTES = 64 * 1024 * 1024

/** How far the measuring of a shard's next object got (see nextObject). */
interface Scan {
  cursor: string | null
  cutter: ObjectCutter
  /** XRANGE start of the next read */
  from: string
  firstMs: number | null
  /** the object written so far, when the scan started at the cursor and it could be kept */
  writer: ObjectWriter | null
}

function randomJitter(failures: number): number {
  const cap = Math.min(30_000, 500 * 2 ** Math.min(failures, 10))
  return cap / 2 + Math.random() * (cap / 2)
}

export class Archiver {
  readonly id: string
  private readonly index: ArchiveIndex
  private readonly catalog: StreamCatalog
  private readonly backoff = new Map<string, Backoff>()
  private readonly held = new Set<string>()
  /** per shard (`stream:generation:index`) */
  private readonly scans = new Map<string, Scan>()
  /** Average bytes (data in base64 + partition key) of the records last read, by shard: sizes the next read. */
  private readonly recordBytes = new Map<string, number>()
  /** capacity of the writers kept in `scans` */
  private keptTextBytes = 0
  private stopping = false
  private loop: Promise<void> | undefined
  private wake: (() => void) | undefined

  constructor(private readonly o: ArchiverOptions) {
    this.id = o.id ?? `${hostname()}-${process.pid}`
    this.index = new ArchiveIndex(o.redis)
    this.catalog = new StreamCatalog(o.redis)
  }

  /** Creates the bucket when asked to and it is missing (retrying until S3 answers or stop()). */
  async prepareBucket(): Promise<void> {
    if (!this.o.settings.createBucket) return
    for (let failures = 0; !this.stopping; failures++) {
      try {
        await this.o.s3.send(new HeadBucketCommand({ Bucket: this.o.settings.bucket }))
        return
      } catch (err) {
        const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode
        if (status === 404) {
          try {
            await this.o.s3.send(new CreateBucketCommand({ Bucket: this.o.settings.bucket }))
            this.o.log.info({ bucket: this.o.settings.bucket }, 'created the bucket')
            return
          } catch (createErr) {
            if ((createErr as { name?: string }).name === 'BucketAlreadyOwnedByYou') return
            err = createErr
          }
        }
        this.o.metrics.s3Errors.inc({ operation: 'create-bucket' })
        this.o.log.warn({ err: String(err) }, 'S3 not ready for the bucket check; retrying')
        await this.sleep(randomJitter(failures))
      }
    }
  }

  start(): void {
    this.loop ??= (async () => {
      await this.prepareBucket()
      while (!this.stopping) {
        try {
          await this.pass()
        } catch (err) {
          this.o.log.warn({ err: String(err) }, 'archiver pass failed; retrying')
        }
        await this.sleep(this.o.intervalMs)
      }
    })()
  }

  /** Finishes the object in hand, then stops. Leases are left to expire (another archiver takes over). */
  async stop(): Promise<void> {
    this.stopping = true
    this.wake?.()
    await this.loop
  }

  private now(): Promise<number> {
    return this.o.clock ? this.o.clock() : this.catalog.redisTimeMs()
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms)
      function done(): void {
        clearTimeout(timer)
        resolve()
      }
      this.wake = done
    })
  }

  /** One pass over every shard of every stream. */
  async pass(): Promise<PassSummary> {
    const summary: PassSummary = { shards: 0, held: 0, objects: 0, records: 0, trimmed: 0, expired: 0, failures: 0 }
    const shards: ShardRef[] = []
    let after: string | undefined
    for (;;) {
      const page = await this.catalog.list(after, 1000)
      for (const stream of page.streams) {
        for (let i = 0; i < stream.shardCount; i++) {
          shards.push({ stream, shardIndex: i, keys: shardKeys(stream.name, stream.generation, i), label: { stream: stream.name, shard: String(i) } })
        }
      }
      if (!page.more || page.streams.length === 0) break
      after = page.streams[page.streams.length - 1]!.name
    }
    summary.shards = shards.length
    // Scans of shards that are gone (their stream deleted) would keep their memory forever.
    const live = new Set(shards.map((ref) => scanId(ref)))
    for (const id of this.scans.keys()) if (!live.has(id)) this.dropScan(id)
    for (const id of this.recordBytes.keys()) if (!live.has(id)) this.recordBytes.delete(id)
    // So do their leases (the held-leases gauge counted them forever) and backoffs.
    for (const id of this.held) if (!live.has(id)) this.held.delete(id)
    for (const id of this.backoff.keys()) if (!live.has(id)) this.backoff.delete(id)
    const now = Date.now()
    let next = 0
    const worker = async (): Promise<void> => {
      while (!this.stopping && next < shards.length) {
        const ref = shards[next++]!
        const id = `${ref.stream.name}:${ref.stream.generation}:${ref.shardIndex}`
        const b = this.backoff.get(id)
        if (b && b.until > now) continue
        try {
          await this.archiveShard(ref, summary)
          this.backoff.delete(id)
        } catch (err) {
          summary.failures++
          const failures = (b?.failures ?? 0) + 1
          const waitMs = randomJitter(failures)
          this.backoff.set(id, { failures, until: Date.now() + waitMs })
          this.o.log.warn({ stream: ref.stream.name, shard: ref.shardIndex, err: String(err), retryInMs: Math.round(waitMs) }, 'archiving a shard failed; will retry')
        }
      }
    }
    await Promise.all(Array.from({ length: Math.max(1, this.o.concurrency ?? 4) }, worker))
    summary.held = this.held.size
    this.o.metrics.leasesHeld.set(this.held.size)
    return summary
  }

  private async archiveShard(ref: ShardRef, summary: PassSummary): Promise<void> {
    const leaseId = `${ref.stream.name}:${ref.stream.generation}:${ref.shardIndex}`
    let claim = await this.index.claim(ref.keys, this.id, this.o.leaseTtlMs)
    if (claim.kind !== 'held') {
      this.held.delete(leaseId)
      this.dropScan(leaseId)
      return
    }
    this.held.add(leaseId)
    let cursor = claim.cursor
    let token = claim.token
    let claimedAt = Date.now()
    for (;;) {
      if (this.stopping) return
      // Renew well before the lease could run out while uploading.
      if (Date.now() - claimedAt > this.o.leaseTtlMs / 3) {
        claim = await this.index.claim(ref.keys, this.id, this.o.leaseTtlMs)
        if (claim.kind !== 'held' || claim.token !== token) {
          this.held.delete(leaseId)
          return
        }
        claimedAt = Date.now()
      }
      let cut: Awaited<ReturnType<Archiver['nextObject']>>
      try {
        cut = await this.nextObject(ref, cursor)
      } catch (err) {
        if (!(err instanceof StaleCursorError)) throw err
        this.held.delete(leaseId)
        this.o.log.warn({ stream: ref.stream.name, shard: ref.shardIndex, err: err.message }, 'lost the shard; leaving it')
        return
      }
      this.o.metrics.backlogSeconds.set(ref.label, cut.backlogSeconds)
      // Before the upload, so an S3 outage shows as a growing backlog rather than a frozen one.
      this.o.metrics.backlogBytes.set(ref.label, await this.index.backlogBytes(ref.keys))
      if (!cut.object) break
      const object = await cut.object.encode(this.o.settings.prefix, ref.stream.name, ref.stream.generation)
      const started = process.hrtime.bigint()
      await this.upload(object.description.key, object.body, object.md5)
      this.o.metrics.uploadSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9)
      const committed = await this.index.commit(ref.keys, this.id, token, cursor, object.description)
      if (committed.kind !== 'committed') {
        // The lease moved on (we stalled past it) or the cursor did: the object we wrote is the
        // one the new holder writes too (same key, same bytes), so nothing is left behind.
        this.held.delete(leaseId)
        this.o.log.warn({ stream: ref.stream.name, shard: ref.shardIndex, outcome: committed.kind }, 'lost the shard before committing; leaving it')
        return
      }
      cursor = object.description.lastEntryId
      summary.objects++
      summary.records += object.description.count
      this.o.metrics.objects.inc({ stream: ref.stream.name })
      this.o.metrics.records.inc({ stream: ref.stream.name }, object.description.count)
      this.o.metrics.bytes.inc({ stream: ref.stream.name }, object.description.bytes)
      this.o.metrics.compressedBytes.inc({ stream: ref.stream.name }, object.body.length)
    }
    summary.trimmed += await this.trim(ref)
    // A bucket that refuses deletes (no permission, Object Lock) keeps expired objects — readers never
    // return their records (the retention floor) — but must not hold up archiving: the failure is
    // counted (s3 errors, operation delete) and logged, the shard is not put in backoff.
    summary.expired += await this.expire(ref).catch((err: unknown) => {
      this.o.log.warn({ stream: ref.stream.name, shard: ref.shardIndex, err: String(err) }, 'could not delete expired objects; will try again next pass')
      return 0
    })
  }

  /**
   * The next object after `cursor`, written out, or none when it cannot be closed yet. Where the
   * scan of a shard got to is kept between passes, so a shard whose object is not old enough yet is
   * not read again from its cursor every pass, and so is the object written so far, within
   * KEPT_TEXT_BYTES over all shards; an object only measured is read again once it is known where it
   * ends. Redis time is read in the same MULTI as the records, before them.
   */
  private async nextObject(ref: ShardRef, cursor: string | null): Promise<{ object: ObjectWriter | null; backlogSeconds: number }> {
    const id = scanId(ref)
    let scan = this.scans.get(id)
    if (!scan || scan.cursor !== cursor) {
      this.dropScan(id)
      scan = { cursor, cutter: new ObjectCutter(this.o.objects), from: cursor ? `(${cursor}` : '-', firstMs: null, writer: null }
      this.scans.set(id, scan)
    }
    const expected = cursor ? entryOrdinal(cursor) + 1 : 1
    // A scan that starts at the cursor writes the object as it measures it (so does one whose writer
    // was kept from an earlier pass): an object that closes within the same call (by size, the usual
    // case under load) is not read twice.
    if (scan.cutter.count === 0) scan.writer = this.newWriter(ref)
    else if (scan.writer) this.keptTextBytes -= scan.writer.capacity // in use: counted again if kept
    const writer = scan.writer
    let count = 0
    let nowMs = 0
    const seen = this.recordBytes.get(id)
    let want = seen === undefined ? FIRST_READ : this.readSize(seen)
    let seenBytes = 0
    let seenRecords = 0
    // Until the end of the loop the scan's writer is not counted: a failure forgets the whole scan.
    try {
      for (;;) {
        const asked = want
        const { nowMs: now, batch } = await this.readRange(ref, scan.from, asked)
        nowMs = now
        const head = batch[0]
        // (No cursor yet: nothing was ever trimmed, the head is the shard's first record.)
        if (head && cursor && scan.cutter.count === 0 && entryOrdinal(head.entryId) !== expected) {
          // Ordinals count records one by one, and trims never pass the cursor: a missing record
          // after our cursor means the cursor moved on without us (our lease lapsed). An object
          // started anywhere else would overlap the real chain.
          throw new StaleCursorError(`the record after cursor ${cursor ?? '(none)'} is gone: another archiver moved on`)
        }
        if (head && scan.firstMs === null) scan.firstMs = entryMs(head.entryId)
        let ended = false
        let last: EntryToArchive | undefined
        for (const e of batch) {
          if (scan.cutter.push(e)) {
            ended = true
            break
          }
          writer?.add(e, scan.cutter.lastLineBytes)
          last = e
        }
        if (last) scan.from = `(${last.entryId}`
        count = scan.cutter.closable(nowMs, !ended && batch.length < asked)
        // What the records take in NDJSON: the data as base64, and the key.
        for (const e of batch) seenBytes += base64EncodedLength(e.data.length) + e.partitionKey.length
        seenRecords += batch.length
        if (seenRecords > 0) this.recordBytes.set(id, seenBytes / seenRecords)
        if (ended || batch.length < asked) break
        want = this.readSize(seenBytes / seenRecords)
      }
    } catch (err) {
      this.scans.delete(id)
      throw err
    }
    const backlogSeconds = scan.firstMs === null ? 0 : Math.max(0, (nowMs - scan.firstMs) / 1000)
    if (count === 0) {
      // Not closable yet: keep what was written for the pass that closes it, within the budget.
      if (writer && writer.count > 0 && this.keptTextBytes + writer.capacity <= (this.o.keptTextBytes ?? KEPT_TEXT_BYTES)) this.keptTextBytes += writer.capacity
      else scan.writer = null
      return { object: null, backlogSeconds }
    }
    this.scans.delete(id)
    if (writer && writer.count === count) return { object: writer, backlogSeconds }
    // The object began in an earlier pass: read its records again, from the cursor.
    const object = this.newWriter(ref)
    let from = cursor ? `(${cursor}` : '-'
    while (object.count < count) {
      const { batch } = await this.readRange(ref, from, Math.min(count - object.count, 10 * READ_BATCH))
      if (batch.length === 0) break
      for (const e of batch) {
        if (object.count === count) break
        object.add(e)
      }
      from = `(${batch[batch.length - 1]!.entryId}`
    }
    if (object.count !== count || (cursor && entryOrdinal(object.firstEntryId!) !== expected)) {
      throw new StaleCursorError(`the records after cursor ${cursor ?? '(none)'} changed while archiving: another archiver moved on`)
    }
    return { object, backlogSeconds }
  }

  /**
   * Records per read when they are `recordBytes` each on average (their base64 and key): what
   * one object holds, and the one more that tells it is full.
   */
  private readSize(recordBytes: number): number {
    return Math.min(READ_BATCH, Math.max(1, Math.floor(this.o.objects.maxBytes / (recordBytes + NDJSON_LINE_OVERHEAD))) + 1)
  }

  /** Forgets a shard's scan, and the memory its kept writer counted. */
  private dropScan(id: string): void {
    const scan = this.scans.get(id)
    if (!scan) return
    if (scan.writer) this.keptTextBytes -= scan.writer.capacity
    this.scans.delete(id)
  }

  private newWriter(ref: ShardRef): ObjectWriter {
    return new ObjectWriter(ref.shardIndex, Math.min(this.o.objects.maxBytes, 256 * 1024))
  }

  /** Redis time and up to `count` records from `from`, in one MULTI (time first). */
  private async readRange(ref: ShardRef, from: string, count: number): Promise<{ nowMs: number; batch: EntryToArchive[] }> {
    // Bytes, not strings: the data is stored as bytes, and a partition key is decoded once.
    const replies = await this.o.redis.multi().time().xrangeBuffer(ref.keys.log, from, '+', 'COUNT', count).exec()
    if (!replies) throw new Error('MULTI was aborted')
    const [timeReply, rangeReply] = replies
    if (timeReply?.[0]) throw timeReply[0]
    if (rangeReply?.[0]) throw rangeReply[0]
    // String(): within a MULTI that holds a Buffer command, ioredis may hand TIME's reply as Buffers too.
    const [sec, usec] = (timeReply![1] as Array<string | Buffer>).map(String) as [string, string]
    const raw = rangeReply![1] as Array<[Buffer, Buffer[]]>
    const batch: EntryToArchive[] = new Array(raw.length)
    for (let i = 0; i < raw.length; i++) {
      const [id, fields] = raw[i]!
      const entryId = id.toString('latin1')
      let partitionKey: string | undefined
      let data: Buffer | undefined
      for (let j = 0; j + 1 < fields.length; j += 2) {
        const name = fields[j]!
        if (name.length !== 1) continue
        if (name[0] === 0x6b /* k */) partitionKey = fields[j + 1]!.toString('utf8')
        else if (name[0] === 0x62 /* b */) data = fields[j + 1]!
        // written by earlier versions: the data as base64 text
        else if (name[0] === 0x64 /* d */) data = Buffer.from(fields[j + 1]!.toString('latin1'), 'base64')
      }
      // An entry this version cannot read (another version's fields) is never archived as something else.
      if (partitionKey === undefined || data === undefined) throw new Error(`entry ${entryId} of ${ref.keys.log} has fields this archiver does not know`)
      batch[i] = { entryId, partitionKey, data }
    }
    return { nowMs: Number(sec) * 1000 + Math.floor(Number(usec) / 1000), batch }
  }

  private async upload(key: string, body: Buffer, md5: string): Promise<void> {
    const bucket = this.o.settings.bucket
    try {
      // S3 checks the body against Content-MD5 itself and refuses a PUT that does not match. The
      // ETag is not compared: with SSE-KMS or SSE-C (and some S3-compatible stores) it is not the MD5,
      // and every upload would fail. No Content-Encoding either: the object is a .gz file, and stores
      // that decompress gzip-encoded objects on the way out (GCS does) would hand back plain text.
      await this.o.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentMD5: md5, ContentType: 'application/gzip' }))
      const head = await this.o.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))
      if (head.ContentLength !== body.length) throw new Error(`S3 holds ${head.ContentLength} bytes for ${key}, expected ${body.length}`)
    } catch (err) {
      this.o.metrics.s3Errors.inc({ operation: 'put' })
      throw err
    }
  }

  /** Trims what is archived and outside the hot window (time, then bytes). */
  private async trim(ref: ShardRef): Promise<number> {
    const status = await this.index.status(ref.keys)
    if (!status.cursor) return 0
    const nowMs = await this.now()
    let below = `${Math.max(0, nowMs - this.o.hotRetentionMs)}-0`
    if (this.o.hotMaxBytes > 0) {
      const written = Number((await this.o.redis.hget(ref.keys.state, 'wbytes')) ?? 0)
      const fromOrdinal = status.below ? entryOrdinal(status.below) : 0
      const objects = await this.index.objectsFromOrdinal(ref.keys, fromOrdinal)
      // Bytes still in Redis: everything not archived, plus the archived objects not trimmed yet.
      let hot = written - status.archivedBytes
      for (const o of objects) hot += o.bytes
      for (const o of objects) {
        if (hot <= this.o.hotMaxBytes) break
        hot -= o.bytes
        const candidate = `${o.lastMs}-${entryOrdinal(o.lastEntryId) + 1}`
        if (compareIds(candidate, below) > 0) below = candidate
      }
    }
    if (status.below && compareIds(below, status.below) <= 0) return 0
    const removed = await this.index.trim(ref.keys, below)
    if (removed > 0) this.o.metrics.trimmed.inc({ stream: ref.stream.name }, removed)
    return removed
  }

  /** Deletes objects whose records are all past the stream's retention. */
  private async expire(ref: ShardRef): Promise<number> {
    const nowMs = await this.now()
    const stream = (await this.catalog.get(ref.stream.name)) ?? ref.stream
    const cutoff = nowMs - stream.retentionHours * 3_600_000
    let expired = 0
    for (;;) {
      const old = await this.index.objectsBefore(ref.keys, cutoff, 100)
      if (old.length === 0) return expired
      for (const o of old) {
        try {
          await this.o.s3.send(new DeleteObjectCommand({ Bucket: this.o.settings.bucket, Key: o.key }))
        } catch (err) {
          this.o.metrics.s3Errors.inc({ operation: 'delete' })
          throw err
        }
        await this.index.forget(ref.keys, o)
        expired++
        this.o.metrics.expired.inc({ stream: ref.stream.name })
      }
    }
  }
}

function scanId(ref: ShardRef): string {
  return `${ref.stream.name}:${ref.stream.generation}:${ref.shardIndex}`
}

class StaleCursorError extends Error {
  override readonly name = 'StaleCursorError'
}

function compareIds(a: string, b: string): number {
  const am = entryMs(a)
  const bm = entryMs(b)
  if (am !== bm) return am < bm ? -1 : 1
  const ao = entryOrdinal(a)
  const bo = entryOrdinal(b)
  return ao === bo ? 0 : ao < bo ? -1 : 1
}
