/**
 * Reads: a starting position (Kinesis' five iterator types) becomes a signed, expiring iterator; a
 * read turns an iterator into records and the next iterator. Records older than the stream's
 * retention are never returned, whatever the position asks for.
 */
import {
  DEFAULT_READ_LIMIT,
  MAX_READ_RESPONSE_BYTES,
  base64DecodedLength,
  compareEntryIds,
  entryIdFromSequenceNumber,
  sequenceNumberFromEntryId,
  shardIdFor,
  type GetRecordsResponse,
  type IteratorPosition,
  type StartingPosition,
  type StreamRecord,
} from '@sluice/protocol'
import { shardKeys } from '@sluice/store'
import { ApiError, retryAfterSecondsFromMs } from '../errors.js'
import type { ActionContext } from '../context.js'
import type { StreamView } from '../stream-directory.js'
import { requireShard, requireStream } from './describe-stream.js'

export interface StartSpec {
  from: StartingPosition
  /** with AT_SEQUENCE_NUMBER / AFTER_SEQUENCE_NUMBER */
  sequenceNumber?: string
  /** with AT_TIMESTAMP: ms since the epoch */
  timestampMs?: number
}

function entryMs(entryId: string): number {
  return Number(entryId.slice(0, entryId.indexOf('-')))
}

/** Where the stream's retention begins now: nothing before this entry id is returned. */
function retentionFloor(ctx: ActionContext, view: StreamView): string {
  return `${Math.max(0, ctx.now() - view.stored.retentionHours * 3_600_000)}-0`
}

function sequencePosition(view: StreamView, shardIndex: number, spec: StartSpec, field: string): string {
  if (spec.sequenceNumber === undefined) {
    throw new ApiError('ValidationError', `${field}: required with ${spec.from}`, { field })
  }
  const pos = entryIdFromSequenceNumber(spec.sequenceNumber)
  if (!pos) throw new ApiError('ValidationError', `${field}: not a sequence number this service issued`, { field })
  if (pos.shardIndex !== shardIndex) {
    throw new ApiError('ValidationError', `${field}: belongs to ${shardIdFor(pos.shardIndex)}, not ${shardIdFor(shardIndex)}`, { field })
  }
  return pos.entryId
}

/**
 * A sequence number past the shard's newest record was never issued by it (a made-up one, or one of
 * another stream): a position or checkpoint there would skip, silently, every record written until
 * then. The newest record only grows, so checking before use is enough.
 */
export async function requireWritten(ctx: ActionContext, view: StreamView, shardIndex: number, entryId: string, field: string): Promise<void> {
  const last = await ctx.shards.lastEntryId(shardKeys(view.stored.name, view.stored.generation, shardIndex))
  if (compareEntryIds(entryId, last) > 0) {
    throw new ApiError('ValidationError', `${field}: after the newest record of ${shardIdFor(shardIndex)}; not a sequence number this shard issued`, { field })
  }
}

/** Resolves a starting position to a concrete place in the shard. */
export async function startPosition(
  ctx: ActionContext,
  view: StreamView,
  shardIndex: number,
  spec: StartSpec,
): Promise<IteratorPosition> {
  const { name: stream, generation } = view.stored
  const base = { stream, generation, shardIndex }
  switch (spec.from) {
    case 'TRIM_HORIZON':
      return { ...base, kind: 'at', entryId: '0-0' }
    case 'LATEST': {
      const last = await ctx.shards.lastEntryId(shardKeys(stream, generation, shardIndex))
      return { ...base, kind: 'after', entryId: last }
    }
    case 'AT_SEQUENCE_NUMBER':
    case 'AFTER_SEQUENCE_NUMBER': {
      const entryId = sequencePosition(view, shardIndex, spec, 'sequenceNumber')
      await requireWritten(ctx, view, shardIndex, entryId, 'sequenceNumber')
      return { ...base, kind: spec.from === 'AT_SEQUENCE_NUMBER' ? 'at' : 'after', entryId }
    }
    case 'AT_TIMESTAMP': {
      if (spec.timestampMs === undefined) throw new ApiError('ValidationError', 'timestamp: required with AT_TIMESTAMP', { field: 'timestamp' })
      // As Kinesis: a start in the future is refused (it would wait, silently, for a time to come).
      const now = ctx.now()
      if (!Number.isSafeInteger(spec.timestampMs) || spec.timestampMs < 0 || spec.timestampMs > now) {
        throw new ApiError('ValidationError', `timestamp: must not be after the server's current time (${now} ms since the epoch), got ${spec.timestampMs}`, { field: 'timestamp' })
      }
      return { ...base, kind: 'at', entryId: `${spec.timestampMs}-0` }
    }
  }
}

export async function getShardIterator(ctx: ActionContext, streamName: string, shardId: string, spec: StartSpec): Promise<string> {
  const view = await requireStream(ctx, streamName)
  const shardIndex = requireShard(view, shardId)
  return ctx.iterators.encode(await startPosition(ctx, view, shardIndex, spec), ctx.now())
}

/** Decodes an iterator and checks it still names a live stream (and, for REST, the path's shard). */
export async function positionFromIterator(
  ctx: ActionContext,
  token: string,
  expect?: { stream: string; shardId: string },
): Promise<{ view: StreamView; position: IteratorPosition }> {
  const decoded = ctx.iterators.decode(token, ctx.now())
  if (!decoded.ok) {
    if (decoded.reason === 'expired') throw new ApiError('ExpiredIterator', 'iterator: expired (iterators are valid for 5 minutes); get a new one', { field: 'iterator' })
    throw new ApiError('InvalidIterator', 'iterator: not an iterator this service issued', { field: 'iterator' })
  }
  const { position } = decoded
  if (expect && (expect.stream !== position.stream || expect.shardId !== shardIdFor(position.shardIndex))) {
    throw new ApiError(
      'InvalidIterator',
      `iterator: belongs to stream ${position.stream} ${shardIdFor(position.shardIndex)}, not ${expect.stream} ${expect.shardId}`,
      { field: 'iterator' },
    )
  }
  const view = await requireStream(ctx, position.stream)
  if (view.stored.generation !== position.generation) {
    throw new ApiError('ExpiredIterator', `iterator: stream ${position.stream} was deleted and created again since; get a new iterator`, {
      field: 'iterator',
    })
  }
  return { view, position }
}

/** Reads from a position; the answer carries the next iterator and how far behind the tip it is. */
export async function readFrom(
  ctx: ActionContext,
  view: StreamView,
  position: IteratorPosition,
  limit = DEFAULT_READ_LIMIT,
): Promise<GetRecordsResponse> {
  const floor = retentionFloor(ctx, view)
  const start: { kind: 'at' | 'after'; entryId: string } =
    compareEntryIds(position.entryId, floor) < 0 ? { kind: 'at', entryId: floor } : { kind: position.kind, entryId: position.entryId }
  const keys = shardKeys(view.stored.name, view.stored.generation, position.shardIndex)
  let result = await ctx.shards.read(keys, start, limit, MAX_READ_RESPONSE_BYTES)
  if (result.kind === 'archived') {
    // The start was trimmed from Redis after archiving: read it from S3, in the same shape.
    if (!ctx.archive) {
      throw new ApiError(
        'ServiceUnavailable',
        `Records of ${shardIdFor(position.shardIndex)} before ${result.belowEntryId} are in the S3 archive, and this server has no SLUICE_S3_BUCKET to read them`,
        { retryAfterSeconds: 1 },
      )
    }
    const archived = await ctx.archive.read(keys, start, limit, MAX_READ_RESPONSE_BYTES)
    if (archived.entries.length > 0) {
      ctx.metrics.archiveReads.inc({ stream: view.stored.name })
      result = { kind: 'records', entries: archived.entries, tipEntryId: result.tipEntryId }
    } else {
      // Nothing archived from the start on: the start is at the archive's end, and what follows is
      // in Redis (trims never pass the archive cursor).
      const cursor = archived.object ? archived.object.lastEntryId : undefined
      const next = cursor && compareEntryIds(cursor, start.entryId) > 0 ? { kind: 'after' as const, entryId: cursor } : start
      result = await ctx.shards.read(keys, { kind: next.kind, entryId: next.entryId }, limit, MAX_READ_RESPONSE_BYTES)
      if (result.kind === 'archived') {
        throw new ApiError('ServiceUnavailable', `The archive of ${shardIdFor(position.shardIndex)} is being trimmed; retry`, { retryAfterSeconds: 1 })
      }
    }
  }
  if (result.kind === 'gone') {
    ctx.directory.invalidate(view.stored.name)
    throw new ApiError('StreamNotFound', `Stream ${view.stored.name} not found`, { field: 'name' })
  }
  if (result.kind === 'throttled') {
    ctx.metrics.readsThrottled.inc({ stream: view.stored.name })
    throw new ApiError(
      'ProvisionedThroughputExceeded',
      `Rate exceeded for reads of shard ${shardIdFor(position.shardIndex)} in stream ${view.stored.name}`,
      { retryAfterSeconds: retryAfterSecondsFromMs(result.retryAfterMs) },
    )
  }
  const { entries, tipEntryId } = result
  const records: StreamRecord[] = new Array(entries.length)
  let bytes = 0
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!
    bytes += base64DecodedLength(e.data) + Buffer.byteLength(e.partitionKey, 'utf8')
    records[i] = {
      sequenceNumber: sequenceNumberFromEntryId(e.entryId, position.shardIndex),
      partitionKey: e.partitionKey,
      data: e.data,
      approximateArrivalTimestamp: entryMs(e.entryId),
    }
  }
  if (entries.length > 0) {
    ctx.metrics.recordsRead.inc({ stream: view.stored.name }, entries.length)
    ctx.metrics.bytesRead.inc({ stream: view.stored.name }, bytes)
  }
  const last = entries[entries.length - 1]
  const next: IteratorPosition = last ? { ...position, kind: 'after', entryId: last.entryId } : { ...position, ...start }
  const millisBehindLatest = last && last.entryId !== tipEntryId ? Math.max(0, entryMs(tipEntryId) - entryMs(last.entryId)) : 0
  return { records, nextIterator: ctx.iterators.encode(next, ctx.now()), millisBehindLatest }
}

export async function getRecords(
  ctx: ActionContext,
  input: { iterator: string; limit?: number; expect?: { stream: string; shardId: string } },
): Promise<GetRecordsResponse> {
  const { view, position } = await positionFromIterator(ctx, input.iterator, input.expect)
  return readFrom(ctx, view, position, input.limit)
}
