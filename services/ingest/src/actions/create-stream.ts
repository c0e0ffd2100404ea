import { DEFAULT_RETENTION_HOURS, type CreateStreamRequest, type StreamDescription } from '@sluice/protocol'
import { ApiError } from '../errors.js'
import type { ActionContext } from '../context.js'
import { describe } from './describe-stream.js'

/**
 * Creates a stream; shapes and ranges were checked by the schema, the configured maximum here.
 * `tags` (Kinesis CreateStream takes them; checked by the caller) are written with the stream.
 */
export async function createStream(ctx: ActionContext, input: CreateStreamRequest, tags?: Readonly<Record<string, string>>): Promise<StreamDescription> {
  if (input.shardCount > ctx.limits.maxShards) {
    throw new ApiError('ValidationError', `shardCount: must be at most ${ctx.limits.maxShards} (SLUICE_MAX_SHARDS), got ${input.shardCount}`, {
      field: 'shardCount',
    })
  }
  const stored = await ctx.catalog.create({
    name: input.name,
    shardCount: input.shardCount,
    retentionHours: input.retentionHours ?? DEFAULT_RETENTION_HOURS,
    writeLimits: {
      perSecond: input.writeLimits?.recordsPerSecond ?? ctx.limits.shardWriteRecordsPerSecond,
      bytesPerSecond: input.writeLimits?.bytesPerSecond ?? ctx.limits.shardWriteBytesPerSecond,
    },
    readLimits: { perSecond: ctx.limits.shardReadsPerSecond, bytesPerSecond: ctx.limits.shardReadBytesPerSecond },
    ...(tags ? { tags } : {}),
  })
  if (!stored) throw new ApiError('StreamExists', `Stream ${input.name} already exists`, { field: 'name' })
  return describe(ctx.directory.remember(stored))
}
