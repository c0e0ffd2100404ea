import { DEFAULT_LIST_LIMIT, STREAM_NAME_RE, type ListStreamsResponse } from '@sluice/protocol'
import { ApiError } from '../errors.js'
import type { ActionContext } from '../context.js'
import { summarize } from './describe-stream.js'

/**
 * The `next` token is the last name of the page, base64url-encoded so clients treat it as opaque.
 * Node's decoder skips what is not base64url ("c+E", "cz!E" and "czE" read alike): only the exact
 * spelling this service gives out is taken.
 */
function decodeNext(next: string): string {
  const name = Buffer.from(next, 'base64url').toString('utf8')
  if (!STREAM_NAME_RE.test(name) || Buffer.from(name, 'utf8').toString('base64url') !== next) throw new ApiError('ValidationError', 'next: not a token this service issued', { field: 'next' })
  return name
}

export async function listStreams(ctx: ActionContext, input: { limit?: number; next?: string }): Promise<ListStreamsResponse> {
  const after = input.next === undefined ? undefined : decodeNext(input.next)
  const { streams, more } = await ctx.catalog.list(after, input.limit ?? DEFAULT_LIST_LIMIT)
  const page: ListStreamsResponse = { streams: streams.map(summarize) }
  const last = streams[streams.length - 1]
  if (more && last) page.next = Buffer.from(last.name, 'utf8').toString('base64url')
  return page
}
