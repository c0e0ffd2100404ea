/** Consumer groups: heartbeat (join and get leases), checkpoint, leave, describe, list. */
import type { FastifyInstance } from 'fastify'
import type { CheckpointRequest } from '@sluice/protocol'
import type { ActionContext } from '../context.js'
import { checkpoint, describeGroup, heartbeat, leave, listGroups } from '../actions/consumer-groups.js'
import { validationError } from '../errors.js'
import { LEASE_TTL_RANGE, checkpointSchema, describeGroupSchema, heartbeatSchema, leaveSchema, listGroupsSchema } from './groups.schema.js'

type WorkerParams = { name: string; group: string; workerId: string }

/** The optional heartbeat body: `{}` or `{"leaseTtlMs": n}`, nothing else. */
function leaseTtlOf(body: unknown): number | undefined {
  if (body === undefined || body === null) return undefined
  if (typeof body !== 'object' || Array.isArray(body)) throw validationError([{ field: 'body', message: 'must be an object' }])
  const problems = Object.keys(body)
    .filter((k) => k !== 'leaseTtlMs')
    .map((k) => ({ field: k, message: 'is not a known member' }))
  const ttl = (body as { leaseTtlMs?: unknown }).leaseTtlMs
  if (ttl !== undefined && (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < LEASE_TTL_RANGE.min || ttl > LEASE_TTL_RANGE.max)) {
    problems.push({ field: 'leaseTtlMs', message: `must be a whole number of ms from ${LEASE_TTL_RANGE.min} to ${LEASE_TTL_RANGE.max}` })
  }
  if (problems.length) throw validationError(problems)
  return ttl as number | undefined
}

export function groupRoutes(app: FastifyInstance, ctx: ActionContext): void {
  app.post<{ Params: WorkerParams }>('/v1/streams/:name/groups/:group/workers/:workerId/heartbeat', { schema: heartbeatSchema, config: { optionalBody: true } }, async (req) =>
    heartbeat(ctx, req.params.name, req.params.group, req.params.workerId, leaseTtlOf(req.body)),
  )

  app.delete<{ Params: WorkerParams }>('/v1/streams/:name/groups/:group/workers/:workerId', { schema: leaveSchema }, async (req, reply) => {
    await leave(ctx, req.params.name, req.params.group, req.params.workerId)
    return reply.code(204).send()
  })

  app.put<{ Params: { name: string; group: string; shardId: string }; Body: CheckpointRequest }>(
    '/v1/streams/:name/groups/:group/shards/:shardId/checkpoint',
    { schema: checkpointSchema },
    async (req) => checkpoint(ctx, req.params.name, req.params.group, req.params.shardId, req.body),
  )

  app.get<{ Params: { name: string; group: string } }>('/v1/streams/:name/groups/:group', { schema: describeGroupSchema }, async (req) =>
    describeGroup(ctx, req.params.name, req.params.group),
  )

  app.get<{ Params: { name: string } }>('/v1/streams/:name/groups', { schema: listGroupsSchema }, async (req) => listGroups(ctx, req.params.name))
}
