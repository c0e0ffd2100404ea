import { ApiError } from '../errors.js'
import type { ActionContext } from '../context.js'

/** Deletes a stream: the name is free when this returns, and its records are unreadable. */
export async function deleteStream(ctx: ActionContext, name: string): Promise<void> {
  const deleted = await ctx.catalog.delete(name)
  ctx.directory.invalidate(name)
  if (!deleted) throw new ApiError('StreamNotFound', `Stream ${name} not found`, { field: 'name' })
}
