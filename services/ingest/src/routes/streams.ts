/** Control plane: create, list, describe and delete streams. */
import type { FastifyInstance } from 'fastify'
import { MAX_LIST_LIMIT, type CreateStreamRequest } from '@sluice/protocol'
import type { ActionContext } from '../context.js'
import { createStream } from '../actions/create-stream.js'
import { deleteStream } from '../actions/delete-stream.js'
import { describeStream } from '../actions/describe-stream.js'
import { listStreams } from '../actions/list-streams.js'
import { ApiError } from '../errors.js'
import { createStreamSchema, deleteStreamSchema, describeStreamSchema, listStreamsSchema, updateStreamSchema } from './streams.schema.js'
import { setRetention } from '../actions/update-stream.js'

export function streamRoutes(app: FastifyInstance, ctx: ActionContext): void {
  app.post<{ Body: CreateStreamRequest }>('/v1/streams', { schema: createStreamSchema }, async (req, reply) => {
    const description = await createStream(ctx, req.body)
    return reply.code(201).send(description)
  })

  app.get<{ Querystring: { limit?: string; next?: string } }>('/v1/streams', { schema: listStreamsSchema }, async (req) => {
    let limit: number | undefined
    if (req.query.limit !== undefined) {
      limit = Number(req.query.limit)
      if (limit < 1 || limit > MAX_LIST_LIMIT) {
        throw new ApiError('ValidationError', `limit: must be from 1 to ${MAX_LIST_LIMIT}, got ${limit}`, { field: 'limit' })
      }
    }
    return listStreams(ctx, { ...(limit !== undefined ? { limit } : {}), ...(req.query.next !== undefined ? { next: req.query.next } : {}) })
  })

  app.get<{ Params: { name: string } }>('/v1/streams/:name', { schema: describeStreamSchema }, async (req) => describeStream(ctx, req.params.name))

  app.patch<{ Params: { name: string }; Body: { retentionHours: number } }>('/v1/streams/:name', { schema: updateStreamSchema }, async (req) =>
    setRetention(ctx, req.params.name, req.body.retentionHours),
  )

  app.delete<{ Params: { name: string } }>('/v1/streams/:name', { schema: deleteStreamSchema }, async (req, reply) => {
    await deleteStream(ctx, req.params.name)
    return reply.code(204).send()
  })
}
