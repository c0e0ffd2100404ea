import { ApiError } from '../errors.js'
import type { ActionContext } from '../context.js'
import { requireStream } from './describe-stream.js'

/** Kinesis' limits for stream tags. */
export const MAX_TAGS_PER_STREAM = 50
export const MAX_TAG_KEY_LENGTH = 128
export const MAX_TAG_VALUE_LENGTH = 256

export async function addTags(ctx: ActionContext, name: string, tags: Readonly<Record<string, string>>): Promise<void> {
  const outcome = await ctx.catalog.addTags(name, tags, MAX_TAGS_PER_STREAM)
  if (outcome === 'missing') throw new ApiError('StreamNotFound', `Stream ${name} not found`, { field: 'name' })
  if (outcome === 'too-many') {
    throw new ApiError('ValidationError', `tags: a stream cannot have more than ${MAX_TAGS_PER_STREAM} tags`, { field: 'tags' })
  }
}

export async function removeTags(ctx: ActionContext, name: string, keys: readonly string[]): Promise<void> {
  await requireStream(ctx, name)
  await ctx.catalog.removeTags(name, keys)
}

export async function listTags(ctx: ActionContext, name: string): Promise<Array<{ key: string; value: string }>> {
  await requireStream(ctx, name)
  return ctx.catalog.tags(name)
}
