/**
 * Put: route each record to its shard (MD5 of the partition key, or the explicit hash key), then one
 * put-records script per shard, all sent at once (ioredis pipelines them). A record reported with a
 * sequence number is in the stream; a record reported failed is not. When Redis may have applied a
 * shard's batch without confirming it, the whole request is a 503: we cannot say which it was.
 */
import {
  MAX_PUT_PAYLOAD_BYTES,
  MAX_RECORD_DATA_BYTES,
  base64DecodedLength,
  hashKeyForPartitionKey,
  parseExplicitHashKey,
  sequenceNumberFromEntryId,
  shardIdFor,
  shardIndexForHashKey,
  MAX_HASH_KEY,
  type ApiErrorDetail,
  type PutRecordEntry,
  type PutRecordResult,
  type PutRecordsResponse,
} from '@sluice/protocol'
import { StoreUnavailableError, shardKeys, type AppendResult, type RecordToAppend } from '@sluice/store'
import { ApiError, retryAfterSecondsFromMs, unavailable, validationError } from '../errors.js'
import type { ActionContext } from '../context.js'
import type { StreamView } from '../stream-directory.js'
import { requireShard, requireStream } from './describe-stream.js'

export interface PutOutcome {
  response: PutRecordsResponse
  /** Every record was refused by the shard limits: the REST answer is 429. */
  allThrottled: boolean
  /** Set when some record was throttled: when the first refused record could fit again. */
  retryAfterSeconds?: number
}

interface CheckedBatch {
  sizes: number[]
  hashKeys: bigint[]
}

/** Checks what the schema cannot (sizes summed over the request, hash-key range) and hashes the keys. */
function checkBatch(records: readonly PutRecordEntry[]): CheckedBatch {
  const problems: ApiErrorDetail[] = []
  const sizes = new Array<number>(records.length)
  const hashKeys = new Array<bigint>(records.length)
  let total = 0
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!
    const dataBytes = base64DecodedLength(r.data)
    // The 1 MiB limit is checked here, on the decoded size: the schema has no maxLength on data (ajv would
    // count the code points of every megabyte), and 1 MiB and 1 MiB + 1 byte have the same base64 length.
    if (dataBytes > MAX_RECORD_DATA_BYTES) {
      problems.push({ field: `records[${i}].data`, message: `must decode to at most ${MAX_RECORD_DATA_BYTES} bytes, got ${dataBytes}` })
    }
    const size = dataBytes + Buffer.byteLength(r.partitionKey, 'utf8')
    sizes[i] = size
    total += size
    if (r.explicitHashKey !== undefined) {
      const k = parseExplicitHashKey(r.explicitHashKey)
      if (k === null) {
        problems.push({ field: `records[${i}].explicitHashKey`, message: `must be a decimal integer from 0 to ${MAX_HASH_KEY}` })
        continue
      }
      hashKeys[i] = k
    } else {
      hashKeys[i] = hashKeyForPartitionKey(r.partitionKey)
    }
  }
  if (total > MAX_PUT_PAYLOAD_BYTES) {
    problems.push({ field: 'records', message: `data plus partition keys of one request must be at most ${MAX_PUT_PAYLOAD_BYTES} bytes, got ${total}` })
  }
  if (problems.length) throw validationError(problems)
  return { sizes, hashKeys }
}

type ShardAttempt =
  | { shardIndex: number; records: number[]; result: AppendResult }
  | { shardIndex: number; records: number[]; failure: StoreUnavailableError }

async function appendToShards(
  ctx: ActionContext,
  view: StreamView,
  records: readonly PutRecordEntry[],
  batch: CheckedBatch,
  onlyShard: number | undefined,
): Promise<ShardAttempt[]> {
  const { stored, ranges } = view
  const byShard = new Map<number, number[]>()
  const misrouted: ApiErrorDetail[] = []
  for (let i = 0; i < records.length; i++) {
    const shard = shardIndexForHashKey(ranges, batch.hashKeys[i]!)
    if (onlyShard !== undefined && shard !== onlyShard) {
      misrouted.push({ field: `records[${i}]`, message: `hashes to ${shardIdFor(shard)}, not ${shardIdFor(onlyShard)}` })
      continue
    }
    let list = byShard.get(shard)
    if (!list) byShard.set(shard, (list = []))
    list.push(i)
  }
  if (misrouted.length) throw validationError(misrouted)

  const attempts: Promise<ShardAttempt>[] = []
  for (const [shardIndex, indexes] of byShard) {
    const toAppend: RecordToAppend[] = indexes.map((i) => ({
      size: batch.sizes[i]!,
      partitionKey: records[i]!.partitionKey,
      // base64, checked by the schema: the store decodes it as it sends it to Redis
      data: records[i]!.data,
    }))
    attempts.push(
      ctx.shards.append(shardKeys(stored.name, stored.generation, shardIndex), toAppend, ctx.limits.maxUnarchivedBytes).then(
        (result): ShardAttempt => ({ shardIndex, records: indexes, result }),
        (err: unknown): ShardAttempt => {
          if (err instanceof StoreUnavailableError) return { shardIndex, records: indexes, failure: err }
          throw err
        },
      ),
    )
  }
  return Promise.all(attempts)
}

function isGone(a: ShardAttempt): boolean {
  return 'result' in a && a.result.kind === 'gone'
}

export async function putRecords(
  ctx: ActionContext,
  streamName: string,
  records: readonly PutRecordEntry[],
  shardId?: string,
): Promise<PutOutcome> {
  let view = await requireStream(ctx, streamName)
  const { metrics } = ctx
  let batch: CheckedBatch
  let onlyShard: number | undefined
  let attempts: ShardAttempt[]
  try {
    batch = checkBatch(records)
    onlyShard = shardId === undefined ? undefined : requireShard(view, shardId)
    attempts = await appendToShards(ctx, view, records, batch, onlyShard)
  } catch (err) {
    if (err instanceof ApiError && err.status === 400) metrics.recordsRefused.inc({ stream: streamName, reason: 'invalid' }, records.length)
    else if (err instanceof ApiError && err.code === 'ServiceUnavailable') metrics.recordsRefused.inc({ stream: streamName, reason: 'unavailable' }, records.length)
    throw err
  }
  if (attempts.every(isGone)) {
    // Our cached description named a deleted generation: look again, and try once more if the name
    // now belongs to a new stream.
    const fresh = await ctx.directory.reload(streamName)
    if (!fresh || fresh.stored.generation === view.stored.generation) {
      throw new ApiError('StreamNotFound', `Stream ${streamName} not found`, { field: 'name' })
    }
    view = fresh
    const again = shardId === undefined ? undefined : requireShard(view, shardId)
    attempts = await appendToShards(ctx, view, records, batch, again)
    if (attempts.every(isGone)) throw new ApiError('StreamNotFound', `Stream ${streamName} not found`, { field: 'name' })
  }

  const unknown = attempts.find((a) => 'failure' in a && a.failure.outcome === 'unknown')
  const failed = attempts.filter((a) => 'failure' in a)
  const fatal = unknown ?? (failed.length === attempts.length ? failed[0] : undefined)
  if (fatal && 'failure' in fatal) {
    metrics.recordsRefused.inc({ stream: streamName, reason: 'unavailable' }, records.length)
    throw unavailable(fatal.failure)
  }

  const results = new Array<PutRecordResult>(records.length)
  let failedRecordCount = 0
  let throttledRecordCount = 0
  let backlogRecordCount = 0
  let retryAfterMs = 0
  for (const a of attempts) {
    const shardName = shardIdFor(a.shardIndex)
    if ('failure' in a) {
      for (const i of a.records) results[i] = { errorCode: 'InternalFailure', errorMessage: `Internal failure writing to ${shardName}: ${a.failure.message}` }
      failedRecordCount += a.records.length
      continue
    }
    if (a.result.kind === 'gone') {
      for (const i of a.records) results[i] = { errorCode: 'InternalFailure', errorMessage: `Stream ${streamName} was deleted while writing` }
      failedRecordCount += a.records.length
      continue
    }
    const { entryIds } = a.result
    for (let j = 0; j < a.records.length; j++) {
      const i = a.records[j]!
      const id = entryIds[j]
      if (id !== undefined) {
        results[i] = { shardId: shardName, sequenceNumber: sequenceNumberFromEntryId(id, a.shardIndex) }
      } else {
        results[i] = {
          errorCode: 'ProvisionedThroughputExceeded',
          errorMessage:
            a.result.refusedBy === 'archive-backlog'
              ? `Shard ${shardName} in stream ${streamName} holds as much unarchived data as it may (the S3 archive is behind); retry later`
              : `Rate exceeded for shard ${shardName} in stream ${streamName}`,
        }
        failedRecordCount++
        throttledRecordCount++
        if (a.result.refusedBy === 'archive-backlog') backlogRecordCount++
      }
    }
    if (a.result.retryAfterMs > retryAfterMs) retryAfterMs = a.result.retryAfterMs
  }
  const accepted = records.length - failedRecordCount
  if (accepted > 0) {
    let bytes = 0
    for (let i = 0; i < results.length; i++) if ('sequenceNumber' in results[i]!) bytes += batch.sizes[i]!
    metrics.recordsAccepted.inc({ stream: streamName }, accepted)
    metrics.bytesAccepted.inc({ stream: streamName }, bytes)
  }
  if (throttledRecordCount > backlogRecordCount) metrics.recordsRefused.inc({ stream: streamName, reason: 'throttled' }, throttledRecordCount - backlogRecordCount)
  if (backlogRecordCount > 0) metrics.recordsRefused.inc({ stream: streamName, reason: 'archive_backlog' }, backlogRecordCount)
  if (failedRecordCount > throttledRecordCount) {
    metrics.recordsRefused.inc({ stream: streamName, reason: 'unavailable' }, failedRecordCount - throttledRecordCount)
  }
  const outcome: PutOutcome = {
    response: { failedRecordCount, records: results },
    allThrottled: throttledRecordCount === records.length,
  }
  if (throttledRecordCount > 0) outcome.retryAfterSeconds = retryAfterSecondsFromMs(retryAfterMs)
  return outcome
}
