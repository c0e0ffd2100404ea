/** Data plane: put records (routed or to one shard) and read a shard. */
import type { FastifyInstance, FastifyReply } from 'fastify'
import { MAX_READ_LIMIT, type PutRecordsRequest, type StartingPosition } from '@sluice/protocol'
import type { ActionContext } from '../context.js'
import { putRecords, type PutOutcome } from '../actions/put-records.js'
import { getRecords, readFrom, startPosition, type StartSpec } from '../actions/get-records.js'
import { requireShard, requireStream } from '../actions/describe-stream.js'
import { ApiError, validationError } from '../errors.js'
import { getRecordsSchema, putRecordsSchema, putShardRecordsSchema } from './records.schema.js'
import type { ApiErrorDetail } from '@sluice/protocol'
import { PUT_BODY_LIMIT } from '../body-parsing.js'

/** Re-exported: the put routes' limit is defined with the others in body-parsing.ts. */
export { PUT_BODY_LIMIT }

function sendPutOutcome(reply: FastifyReply, outcome: PutOutcome): FastifyReply {
  if (outcome.retryAfterSeconds !== undefined) reply.header('retry-after', String(outcome.retryAfterSeconds))
  return reply.code(outcome.allThrottled ? 429 : 200).send(outcome.response)
}

interface ReadQuery {
  from?: StartingPosition
  sequenceNumber?: string
  timestamp?: string
  limit?: string
  iterator?: string
}

/**
 * ISO 8601: a date (midnight UTC), or a date-time with seconds and fractions optional and Z or an
 * offset required (without one it would be read in the server's time zone). Date.parse alone accepts
 * too much ("1", "March 7", 2024-02-30 as 1 March, 24:00): every field is checked here.
 */
const ISO_TIME_RE = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2}))?$/

function parseTimestamp(text: string): number | null {
  if (/^\d{1,15}$/.test(text)) return Number(text)
  const m = ISO_TIME_RE.exec(text)
  if (!m) return null
  const [year, month, day, hour = 0, minute = 0, second = 0] = m.slice(1, 7).map((x) => (x === undefined ? undefined : Number(x)))
  const date = new Date(Date.UTC(year!, month! - 1, day!))
  // Date.UTC rolls an impossible day over into the next month: a round trip finds it.
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month! - 1 || date.getUTCDate() !== day) return null
  if (hour > 23 || minute > 59 || second > 59) return null
  const offset = m[8]
  if (offset !== undefined && offset !== 'Z' && (Number(offset.slice(1, 3)) > 23 || Number(offset.slice(-2)) > 59)) return null
  const ms = Date.parse(text)
  return Number.isFinite(ms) && ms >= 0 ? ms : null
}

/** Checks the combination of read parameters; every problem is reported, not just the first. */
function readRequest(q: ReadQuery): { limit: number | undefined; spec: StartSpec | undefined } {
  const problems: ApiErrorDetail[] = []
  let limit: number | undefined
  if (q.limit !== undefined) {
    limit = Number(q.limit)
    if (limit < 1 || limit > MAX_READ_LIMIT) problems.push({ field: 'limit', message: `must be from 1 to ${MAX_READ_LIMIT}, got ${q.limit}` })
  }
  if (q.iterator !== undefined && q.from !== undefined) problems.push({ field: 'iterator', message: 'give either iterator or from, not both' })
  if (q.iterator === undefined && q.from === undefined) problems.push({ field: 'from', message: `required unless iterator is given (one of TRIM_HORIZON, LATEST, AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER, AT_TIMESTAMP)` })
  const wantsSequence = q.from === 'AT_SEQUENCE_NUMBER' || q.from === 'AFTER_SEQUENCE_NUMBER'
  if (q.sequenceNumber !== undefined && !wantsSequence) problems.push({ field: 'sequenceNumber', message: 'only valid with from=AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER' })
  if (wantsSequence && q.sequenceNumber === undefined) problems.push({ field: 'sequenceNumber', message: `required with from=${q.from}` })
  let timestampMs: number | undefined
  if (q.timestamp !== undefined) {
    if (q.from !== 'AT_TIMESTAMP') problems.push({ field: 'timestamp', message: 'only valid with from=AT_TIMESTAMP' })
    const ms = parseTimestamp(q.timestamp)
    if (ms === null) problems.push({ field: 'timestamp', message: 'must be ms since the epoch, or an ISO 8601 date (2026-03-07, midnight UTC) or date-time with Z or an offset (2026-03-07T12:00:00.000Z)' })
    else timestampMs = ms
  } else if (q.from === 'AT_TIMESTAMP') problems.push({ field: 'timestamp', message: 'required with from=AT_TIMESTAMP' })
  if (problems.length) throw validationError(problems)
  const spec: StartSpec | undefined =
    q.from === undefined
      ? undefined
      : {
          from: q.from,
          ...(q.sequenceNumber !== undefined ? { sequenceNumber: q.sequenceNumber } : {}),
          ...(timestampMs !== undefined ? { timestampMs } : {}),
        }
  return { limit, spec }
}

export function recordRoutes(app: FastifyInstance, ctx: ActionContext): void {
  app.post<{ Params: { name: string }; Body: PutRecordsRequest }>(
    '/v1/streams/:name/records',
    { schema: putRecordsSchema, bodyLimit: PUT_BODY_LIMIT },
    async (req, reply) => sendPutOutcome(reply, await putRecords(ctx, req.params.name, req.body.records)),
  )

  app.post<{ Params: { name: string; shardId: string }; Body: PutRecordsRequest }>(
    '/v1/streams/:name/shards/:shardId/records',
    { schema: putShardRecordsSchema, bodyLimit: PUT_BODY_LIMIT },
    async (req, reply) => sendPutOutcome(reply, await putRecords(ctx, req.params.name, req.body.records, req.params.shardId)),
  )

  app.get<{ Params: { name: string; shardId: string }; Querystring: ReadQuery }>(
    '/v1/streams/:name/shards/:shardId/records',
    { schema: getRecordsSchema },
    async (req) => {
      const { name, shardId } = req.params
      const { limit, spec } = readRequest(req.query)
      if (req.query.iterator !== undefined) {
        return getRecords(ctx, { iterator: req.query.iterator, ...(limit !== undefined ? { limit } : {}), expect: { stream: name, shardId } })
      }
      if (!spec) throw new ApiError('ValidationError', 'from: required', { field: 'from' })
      const view = await requireStream(ctx, name)
      const shardIndex = requireShard(view, shardId)
      return readFrom(ctx, view, await startPosition(ctx, view, shardIndex, spec), limit)
    },
  )
}
