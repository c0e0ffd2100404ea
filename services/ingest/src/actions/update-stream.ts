import { MAX_RETENTION_HOURS, MIN_RETENTION_HOURS, type StreamDescription } from '@sluice/protocol'
import { ApiError } from '../errors.js'
import type { ActionContext } from '../context.js'
import { describe, requireStream } from './describe-stream.js'

/**
 * Sets how long records stay readable. Shortening it hides older records from reads at once;
 * lengthening it brings back nothing that was already past the old retention and removed.
 */
export async function setRetention(ctx: ActionContext, name: string, retentionHours: number): Promise<StreamDescription> {
  if (!Number.isInteger(retentionHours) || retentionHours < MIN_RETENTION_HOURS || retentionHours > MAX_RETENTION_HOURS) {
    throw new ApiError('ValidationError', `retentionHours: must be a whole number from ${MIN_RETENTION_HOURS} to ${MAX_RETENTION_HOURS}`, { field: 'retentionHours' })
  }
  if (!(await ctx.catalog.setRetention(name, retentionHours))) throw new ApiError('StreamNotFound', `Stream ${name} not found`, { field: 'name' })
  ctx.directory.invalidate(name)
  return describe(await requireStream(ctx, name))
}
