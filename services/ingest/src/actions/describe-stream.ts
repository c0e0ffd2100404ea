import {
  firstSequenceNumberOfShard,
  hashKeyToString,
  parseShardId,
  shardIdFor,
  type StreamDescription,
  type StreamSummary,
} from '@sluice/protocol'
import { ApiError } from '../errors.js'
import type { ActionContext } from '../context.js'
import type { StreamView } from '../stream-directory.js'
import type { StoredStream } from '../store-types.js'

export function summarize(stored: StoredStream): StreamSummary {
  return {
    name: stored.name,
    status: 'ACTIVE',
    shardCount: stored.shardCount,
    retentionHours: stored.retentionHours,
    createdAt: stored.createdAt,
  }
}

export function describe(view: StreamView): StreamDescription {
  const { stored, ranges } = view
  return {
    ...summarize(stored),
    writeLimits: { recordsPerSecond: stored.writeLimits.perSecond, bytesPerSecond: stored.writeLimits.bytesPerSecond },
    shards: ranges.map((r, i) => ({
      shardId: shardIdFor(i),
      hashKeyRange: { start: hashKeyToString(r.start), end: hashKeyToString(r.end) },
      sequenceNumberRange: { start: firstSequenceNumberOfShard(stored.createdAt, i) },
    })),
  }
}

/** The stream, or 404 StreamNotFound. */
export async function requireStream(ctx: ActionContext, name: string): Promise<StreamView> {
  const view = await ctx.directory.get(name)
  if (!view) throw new ApiError('StreamNotFound', `Stream ${name} not found`, { field: 'name' })
  return view
}

/** The shard's index, or 400 for a malformed id / 404 for one the stream does not have. */
export function requireShard(view: StreamView, shardId: string): number {
  const index = parseShardId(shardId)
  if (index === null) {
    throw new ApiError('ValidationError', `shardId: must look like shardId-000000000000, got "${shardId.slice(0, 64)}"`, { field: 'shardId' })
  }
  if (index >= view.stored.shardCount) {
    throw new ApiError('ShardNotFound', `Shard ${shardId} not found in stream ${view.stored.name}`, { field: 'shardId' })
  }
  return index
}

export async function describeStream(ctx: ActionContext, name: string): Promise<StreamDescription> {
  return describe(await requireStream(ctx, name))
}
