/**
 * The S3 archive of the shards: where objects go, what they hold, and the Redis side that chains
 * them (cursor, fenced lease, object index, trim watermark).
 *
 * Object key: `<prefix>/<stream>/<generation>/<shardId>/<firstSequenceNumber>.ndjson.gz`. The
 * generation keeps a re-created stream's objects apart from a deleted one's. An object is gzip'd
 * NDJSON, one record per line:
 *   {"sequenceNumber":"…","partitionKey":"…","data":"<base64>","approximateArrivalTimestamp":<ms>}
 *
 * Exactly once, no gap, no overlap: an object always starts at the record after the cursor, and what
 * it holds is a function of the shard's records alone (see `objectEnd`), so an upload retried after a
 * crash — or made by an archiver whose lease was taken over — writes the very same bytes under the
 * very same key. Only the fenced archive-commit script moves the cursor.
 */
import { createHash } from 'node:crypto'
import { promisify } from 'node:util'
import { gunzipSync, gzip } from 'node:zlib'
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3'
import { ShardSequenceNumbers, base64EncodedLength, entryIdFromSequenceNumber, sequenceNumberFromEntryId, shardIdFor } from '@sluice/protocol'
import { envReader } from './env.js'
import { guarded } from './errors.js'
import { runScript } from './scripts.js'
import type { SluiceRedis } from './connection.js'
import type { ShardKeys } from './keys.js'

export interface S3Settings {
  /** unset: AWS itself */
  endpoint: string | undefined
  bucket: string
  prefix: string
  region: string
  forcePathStyle: boolean
  createBucket: boolean
}

/**
 * SLUICE_S3_* from the environment; undefined when no bucket is set (archiving is off). Problems are
 * appended to `problems` so the caller reports them with its own.
 */
export function loadS3Settings(env: Record<string, string | undefined>, problems: string[]): S3Settings | undefined {
  const bucket = env.SLUICE_S3_BUCKET || undefined
  const endpoint = env.SLUICE_S3_ENDPOINT || undefined
  if (endpoint !== undefined && !/^https?:\/\/[^/]+/.test(endpoint)) problems.push(`SLUICE_S3_ENDPOINT must be an http:// or https:// URL, got "${endpoint}"`)
  const { flag } = envReader(env, problems)
  const prefix = (env.SLUICE_S3_PREFIX ?? 'sluice').replace(/^\/+|\/+$/g, '')
  if (!/^[a-zA-Z0-9_.\-/]*$/.test(prefix)) problems.push(`SLUICE_S3_PREFIX may hold only letters, digits, _ . - and /, got "${prefix}"`)
  const settings: S3Settings = {
    endpoint,
    bucket: bucket ?? '',
    prefix,
    region: env.SLUICE_S3_REGION || env.AWS_REGION || 'us-east-1',
    forcePathStyle: flag('SLUICE_S3_FORCE_PATH_STYLE'),
    createBucket: flag('SLUICE_S3_CREATE_BUCKET'),
  }
  if (bucket === undefined) {
    if (endpoint !== undefined) problems.push('SLUICE_S3_ENDPOINT is set but SLUICE_S3_BUCKET is not: set the bucket to archive')
    return undefined
  }
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) problems.push(`SLUICE_S3_BUCKET is not a valid bucket name: "${bucket}"`)
  return settings
}

/** A client for the settings; credentials come the AWS SDK way (environment, profile, role). */
export function createS3Client(settings: S3Settings, extra: Partial<S3ClientConfig> = {}): S3Client {
  return new S3Client({
    region: settings.region,
    forcePathStyle: settings.forcePathStyle,
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    // Our own loops retry with backoff and report; the SDK's retries would hide an outage.
    maxAttempts: 2,
    // Without a timeout, a request to an S3 that stopped answering would wait forever.
    requestHandler: { connectionTimeout: 5000, requestTimeout: 30_000, throwOnRequestTimeout: true },
    // No CRC32 "flexible checksums" (the SDK's default since 2025): uploads carry our Content-MD5,
    // which every S3-compatible store checks, and gzip's own CRC covers what reads get back. The
    // default computes a third hash over every object on the archiver's thread (with MD5 and SigV4's
    // SHA-256), and stores that do not know its headers refuse the upload.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...extra,
  })
}

export function archiveShardPrefix(prefix: string, stream: string, generation: number, shardIndex: number): string {
  return `${prefix ? `${prefix}/` : ''}${stream}/${generation}/${shardIdFor(shardIndex)}/`
}

export function archiveObjectKey(prefix: string, stream: string, generation: number, shardIndex: number, firstSequenceNumber: string): string {
  return `${archiveShardPrefix(prefix, stream, generation, shardIndex)}${firstSequenceNumber}.ndjson.gz`
}

/** One record as the archive holds it (and as reads return it). */
export interface ArchivedRecord {
  sequenceNumber: string
  partitionKey: string
  /** base64 */
  data: string
  /** ms since the epoch */
  approximateArrivalTimestamp: number
}

/** What the object index in Redis says about one object. */
export interface ArchivedObject {
  key: string
  firstEntryId: string
  lastEntryId: string
  count: number
  /** data (decoded) + partition key bytes, as put-records counts them */
  bytes: number
  firstMs: number
  lastMs: number
  /** gzip'd size in S3 */
  size: number
}

/** A record read from the shard's Redis stream, on its way to an object. */
export interface EntryToArchive {
  entryId: string
  partitionKey: string
  /** the record's bytes */
  data: Buffer
}

const gzipAsync = promisify(gzip)
const EMPTY_TEXT = Buffer.alloc(0)

/**
 * The archiver must keep up with the ingest rate on a fraction of a core, so compression is tuned
 * for speed (measured on NDJSON of 100-byte records: random bytes, JSON events, log lines):
 *   - level 1: about twice as fast as the default 6, for 1-12 % more bytes;
 *   - a 16 KiB window (windowBits 14) with the largest hash table (memLevel 9): half the time of
 *     the defaults on incompressible data, whose matches a 32 KiB window only searches for longer,
 *     and 1-3 % more bytes on compressible data (its repeats are near: a record is a few hundred bytes);
 *   - output in 1 MiB chunks rather than 16 KiB: an object is one call back from the thread pool.
 * Still plain gzip (RFC 1952): any reader decodes it.
 */
const GZIP_OPTIONS = { level: 1, windowBits: 14, memLevel: 9, chunkSize: 1024 * 1024 } as const

export function entryMs(entryId: string): number {
  return Number(entryId.slice(0, entryId.indexOf('-')))
}

export function entryOrdinal(entryId: string): number {
  return Number(entryId.slice(entryId.indexOf('-') + 1))
}

export function recordBytes(e: { partitionKey: string; data: Buffer }): number {
  return e.data.length + Buffer.byteLength(e.partitionKey, 'utf8')
}

export interface ObjectLimits {
  /** an object closes before its NDJSON (uncompressed) would pass this many bytes */
  maxBytes: number
  /** …or with the first record that arrived this long after its first record */
  maxAgeMs: number
}

/** Plain printable ASCII without quote or backslash (the usual partition key): JSON needs no escaping. */
function isPlainKey(key: string): boolean {
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i)
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return false
  }
  return true
}

/** A partition key as a JSON string. */
function jsonKey(key: string, plain = isPlainKey(key)): string {
  return plain ? `"${key}"` : JSON.stringify(key)
}

/**
 * One NDJSON line: the same text as JSON.stringify of an ArchivedRecord (fields in that order), built
 * directly — data is base64 and the sequence number and time are digits, so only the key may need
 * escaping. This runs for every archived record.
 */
export function ndjsonLine(e: EntryToArchive, shardIndex: number): string {
  const data = e.data.toString('base64')
  return `${lineHead(sequenceNumberFromEntryId(e.entryId, shardIndex), jsonKey(e.partitionKey))}${data}${lineTail(String(entryMs(e.entryId)))}`
}

/** A line up to the data, and after it: the data goes between as it is (base64 needs no escaping). */
function lineHead(sequenceNumber: string, keyJson: string): string {
  return `{"sequenceNumber":"${sequenceNumber}","partitionKey":${keyJson},"data":"`
}

/** `ms`: the entry id's milliseconds, as Redis spells them (digits, no leading zero). */
function lineTail(ms: string): string {
  return `","approximateArrivalTimestamp":${ms}}\n`
}

/** Buffer.byteLength(ndjsonLine(e)) without building the line. */
export function ndjsonLineBytes(e: EntryToArchive): number {
  const dash = e.entryId.indexOf('-')
  const key = e.partitionKey
  const keyBytes = isPlainKey(key) ? key.length + 2 : Buffer.byteLength(JSON.stringify(key))
  // {"sequenceNumber":"<42>","partitionKey":<key>,"data":"<data>","approximateArrivalTimestamp":<ms>}\n
  return 19 + 42 + 17 + keyBytes + 9 + base64EncodedLength(e.data.length) + 32 + dash + 2
}

/**
 * How many of `entries` (the records right after the cursor, in order, read at or after Redis time
 * `nowMs`) the next object holds: a count, 0 when it cannot be closed yet, or -1 when `entries`
 * ends before the object does and more records may exist (read on). The count depends only on the
 * records, never on when the archiver looks, so every attempt at the object starting after a given
 * cursor builds the same object:
 *   - it takes records while its NDJSON stays within maxBytes (at least one record), and only those
 *     that arrived less than maxAgeMs after its first;
 *   - it is closed once a record beyond it exists, or, when `exhausted` (no record after `entries`
 *     existed when they were read), once `nowMs` is past the age bound: every later record arrives
 *     after that.
 */
export function objectEnd(entries: readonly EntryToArchive[], limits: ObjectLimits, nowMs: number, exhausted: boolean): number {
  const cutter = new ObjectCutter(limits)
  for (const e of entries) if (cutter.push(e)) return cutter.closable(nowMs, false)
  return exhausted ? cutter.closable(nowMs, true) : -1
}

/**
 * `objectEnd` fed one record at a time, so an archiver can keep where it got to between passes
 * instead of measuring the same records again while an object is not old enough to close.
 */
export class ObjectCutter {
  /** records the object holds so far */
  count = 0
  /** ndjsonLineBytes of the record last taken */
  lastLineBytes = 0
  private bytes = 0
  private ageBound = 0
  private ended = false

  constructor(private readonly limits: ObjectLimits) {}

  /** Offers the next record; true when the object ends before it (it is not taken). */
  push(e: EntryToArchive): boolean {
    if (this.ended) return true
    if (this.count === 0) this.ageBound = entryMs(e.entryId) + this.limits.maxAgeMs
    else if (entryMs(e.entryId) >= this.ageBound) return (this.ended = true)
    const size = ndjsonLineBytes(e)
    if (this.count > 0 && this.bytes + size > this.limits.maxBytes) return (this.ended = true)
    this.bytes += size
    this.lastLineBytes = size
    this.count++
    return false
  }

  /**
   * How many records the object holds if it can be closed now: once a record beyond it was seen, or,
   * when every record there was has been offered (`exhausted`, read at or after Redis time `nowMs`),
   * once `nowMs` is past the age bound. 0: not yet.
   */
  closable(nowMs: number, exhausted: boolean): number {
    if (this.ended) return this.count
    if (this.count > 0 && exhausted && nowMs >= this.ageBound) return this.count
    return 0
  }
}

export interface EncodedObject {
  body: Buffer
  /** base64 MD5 of the body, for Content-MD5 */
  md5: string
  description: ArchivedObject
}

/**
 * An object's NDJSON, written line by line as its records are read: the archiver copies each record
 * into the text as soon as it has it, so the record (and the reply it came in) dies young instead of
 * being held, and copied by the garbage collector, until the object closes. `encode` compresses it.
 */
export class ObjectWriter {
  count = 0
  /** data (decoded) + partition key bytes of the records, as put-records counts them */
  bytes = 0
  firstEntryId: string | null = null
  lastEntryId: string | null = null
  /** allocated with the first record: a writer that stays empty costs nothing */
  private text = EMPTY_TEXT
  private at = 0
  private readonly sequenceNumbers: ShardSequenceNumbers
  /** the last line's milliseconds, and its tail (records of one millisecond share it) */
  private tailMs = ''
  private tail = ''

  /** bytes the text takes in memory (it grows by doubling) */
  get capacity(): number {
    return this.text.length
  }

  /** `sizeHint`: the NDJSON bytes expected (the text grows past it as needed). */
  constructor(
    readonly shardIndex: number,
    private readonly sizeHint = 64 * 1024,
  ) {
    this.sequenceNumbers = new ShardSequenceNumbers(shardIndex)
  }

  /** Appends the record's line; `lineBytes` is ndjsonLineBytes(e) when the caller has it already. */
  add(e: EntryToArchive, lineBytes = ndjsonLineBytes(e)): void {
    if (this.at + lineBytes > this.text.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.sizeHint, 2 * this.text.length, this.at + lineBytes))
      this.text.copy(grown, 0, 0, this.at)
      this.text = grown
    }
    const start = this.at
    // The sequence number checks the entry id: past it, its milliseconds are canonical digits.
    const sequenceNumber = this.sequenceNumbers.of(e.entryId)
    const plain = isPlainKey(e.partitionKey)
    this.at += this.text.write(lineHead(sequenceNumber, jsonKey(e.partitionKey, plain)), this.at, plain ? 'latin1' : 'utf8')
    this.at += this.text.write(e.data.toString('base64'), this.at, 'latin1')
    const dash = e.entryId.indexOf('-')
    if (dash !== this.tailMs.length || !e.entryId.startsWith(this.tailMs)) {
      this.tailMs = e.entryId.slice(0, dash)
      this.tail = lineTail(this.tailMs)
    }
    this.at += this.text.write(this.tail, this.at, 'latin1')
    if (this.at - start !== lineBytes) throw new Error(`archive line of ${e.entryId}: wrote ${this.at - start} bytes, measured ${lineBytes}`)
    this.bytes += recordBytes(e)
    this.firstEntryId ??= e.entryId
    this.lastEntryId = e.entryId
    this.count++
  }

  /**
   * The object: gzip'd (deterministic: same records, same bytes), off the event loop on libuv's
   * thread pool, with its MD5 and its description for the index.
   */
  async encode(prefix: string, stream: string, generation: number): Promise<EncodedObject> {
    const first = this.firstEntryId
    const last = this.lastEntryId
    if (first === null || last === null) throw new RangeError('an archive object holds at least one record')
    const body = await gzipAsync(this.text.subarray(0, this.at), GZIP_OPTIONS)
    const digest = createHash('md5').update(body).digest()
    return {
      body,
      md5: digest.toString('base64'),
      description: {
        key: archiveObjectKey(prefix, stream, generation, this.shardIndex, sequenceNumberFromEntryId(first, this.shardIndex)),
        firstEntryId: first,
        lastEntryId: last,
        count: this.count,
        bytes: this.bytes,
        firstMs: entryMs(first),
        lastMs: entryMs(last),
        size: body.length,
      },
    }
  }
}

/** The object for `entries` (all of them); see ObjectWriter. */
export async function encodeObject(prefix: string, stream: string, generation: number, shardIndex: number, entries: readonly EntryToArchive[]): Promise<EncodedObject> {
  let size = 0
  for (const e of entries) size += ndjsonLineBytes(e)
  const writer = new ObjectWriter(shardIndex, size)
  for (const e of entries) writer.add(e)
  return writer.encode(prefix, stream, generation)
}

/** The records of an object, in order; throws on a body that is not one of ours. */
export function decodeObject(body: Uint8Array): ArchivedRecord[] {
  const text = gunzipSync(body).toString('utf8')
  const out: ArchivedRecord[] = []
  let start = 0
  while (start < text.length) {
    let end = text.indexOf('\n', start)
    if (end < 0) end = text.length
    if (end > start) {
      const r = JSON.parse(text.slice(start, end)) as ArchivedRecord
      if (typeof r.sequenceNumber !== 'string' || !entryIdFromSequenceNumber(r.sequenceNumber) || typeof r.data !== 'string' || typeof r.partitionKey !== 'string') {
        throw new Error(`archive object line ${out.length + 1} is not a record`)
      }
      out.push(r)
    }
    start = end + 1
  }
  return out
}

export type ClaimResult =
  | { kind: 'held'; token: string; cursor: string | null; archivedBytes: number }
  | { kind: 'taken'; owner: string; remainingMs: number }
  | { kind: 'gone' }

export type CommitResult = { kind: 'committed' } | { kind: 'lease-lost' } | { kind: 'moved'; cursor: string | null }

export interface ArchiveStatus {
  cursor: string | null
  archivedBytes: number
  /** every entry with a smaller id was trimmed from Redis */
  below: string | null
  owner: string | null
}

function parseObject(member: string): ArchivedObject {
  return JSON.parse(member) as ArchivedObject
}

/** The Redis side of the archive, one shard at a time. */
export class ArchiveIndex {
  constructor(private readonly redis: SluiceRedis) {}

  async claim(keys: ShardKeys, archiverId: string, ttlMs: number): Promise<ClaimResult> {
    const reply = (await guarded(runScript(this.redis, 'archiveClaim', [keys.archive, keys.state, archiverId, ttlMs]))) as unknown[]
    if (reply[0] === -1) return { kind: 'gone' }
    if (reply[0] === 0) return { kind: 'taken', owner: String(reply[1]), remainingMs: Number(reply[2]) }
    const cursor = String(reply[2])
    return { kind: 'held', token: String(reply[1]), cursor: cursor === '' ? null : cursor, archivedBytes: Number(reply[3]) }
  }

  async commit(keys: ShardKeys, archiverId: string, token: string, from: string | null, object: ArchivedObject): Promise<CommitResult> {
    const member = JSON.stringify(object)
    const reply = (await guarded(
      runScript(this.redis, 'archiveCommit', [
        keys.archive,
        keys.objects,
        keys.objectsByTime,
        archiverId,
        token,
        from ?? '',
        object.lastEntryId,
        object.bytes,
        member,
        entryOrdinal(object.lastEntryId),
        object.lastMs,
      ]),
    )) as unknown[]
    if (reply[0] === 1) return { kind: 'committed' }
    if (reply[0] === 0) return { kind: 'lease-lost' }
    const cursor = String(reply[1])
    return { kind: 'moved', cursor: cursor === '' ? null : cursor }
  }

  /** Trims entries below `belowEntryId`, capped at the record after the cursor; returns how many went. */
  async trim(keys: ShardKeys, belowEntryId: string): Promise<number> {
    const reply = (await guarded(runScript(this.redis, 'archiveTrim', [keys.archive, keys.log, belowEntryId]))) as unknown[]
    return Number(reply[0])
  }

  /** Bytes written to the shard and not archived yet (as puts count them: data decoded + partition key). */
  async backlogBytes(keys: ShardKeys): Promise<number> {
    // One slot: the state and archive hashes share the shard's hash tag.
    const replies = await guarded(this.redis.multi().hget(keys.state, 'wbytes').hget(keys.archive, 'bytes').exec())
    const written = Number(replies?.[0]?.[1] ?? 0)
    const archived = Number(replies?.[1]?.[1] ?? 0)
    return Math.max(0, written - archived)
  }

  async status(keys: ShardKeys): Promise<ArchiveStatus> {
    const [cursor, bytes, below, owner] = await guarded(this.redis.hmget(keys.archive, 'cursor', 'bytes', 'below', 'owner'))
    return { cursor: cursor || null, archivedBytes: Number(bytes ?? 0), below: below || null, owner: owner || null }
  }

  /** The first object holding a record with ordinal >= `ordinal`, or null. */
  async objectFromOrdinal(keys: ShardKeys, ordinal: number): Promise<ArchivedObject | null> {
    const found = await guarded(this.redis.zrangebyscore(keys.objects, ordinal, '+inf', 'LIMIT', '0', '1'))
    return found[0] ? parseObject(found[0]) : null
  }

  /** Every object holding a record with ordinal >= `ordinal`, oldest first. */
  async objectsFromOrdinal(keys: ShardKeys, ordinal: number): Promise<ArchivedObject[]> {
    return (await guarded(this.redis.zrangebyscore(keys.objects, ordinal, '+inf'))).map(parseObject)
  }

  /** The first object holding a record that arrived at or after `ms`, or null. */
  async objectFromTime(keys: ShardKeys, ms: number): Promise<ArchivedObject | null> {
    const found = await guarded(this.redis.zrangebyscore(keys.objectsByTime, ms, '+inf', 'LIMIT', '0', '1'))
    return found[0] ? parseObject(found[0]) : null
  }

  /** Objects whose every record arrived before `ms` (oldest first, at most `count`). */
  async objectsBefore(keys: ShardKeys, ms: number, count: number): Promise<ArchivedObject[]> {
    const found = await guarded(this.redis.zrangebyscore(keys.objectsByTime, '-inf', `(${ms}`, 'LIMIT', '0', String(count)))
    return found.map(parseObject)
  }

  /** All objects of the shard, oldest first. */
  async objects(keys: ShardKeys): Promise<ArchivedObject[]> {
    return (await guarded(this.redis.zrange(keys.objects, '0', '-1'))).map(parseObject)
  }

  /** Drops an object from the index (its S3 object was deleted for retention). */
  async forget(keys: ShardKeys, object: ArchivedObject): Promise<void> {
    const member = JSON.stringify(object)
    await guarded(this.redis.multi().zrem(keys.objects, member).zrem(keys.objectsByTime, member).exec())
  }
}
