/** Liveness (the process answers), readiness (Redis answers and accepts a write) and metrics. */
import type { FastifyInstance } from 'fastify'
import { catalogKeys, guarded, type SluiceRedis } from '@sluice/store'
import { ApiError } from '../errors.js'
import type { IngestMetrics } from '../metrics.js'

const healthResponse = { type: 'object', required: ['status'], properties: { status: { type: 'string' } } } as const

export function healthRoutes(app: FastifyInstance, redis: SluiceRedis, isClosing: () => boolean): void {
  app.get('/livez', { schema: { response: { 200: healthResponse } } }, async () => ({ status: 'ok' }))

  app.get('/readyz', { schema: { response: { 200: healthResponse } } }, async () => {
    if (isClosing()) throw new ApiError('ServiceUnavailable', 'shutting down', { retryAfterSeconds: 1 })
    // A write, not just PING: a Redis that is out of memory or read-only cannot take puts.
    await guarded(redis.set(catalogKeys.readiness, String(Date.now()), 'PX', 60_000))
    return { status: 'ok' }
  })
}

/** Prometheus text format; open like the health routes (see README). */
export function metricsRoute(app: FastifyInstance, metrics: IngestMetrics): void {
  app.get('/metrics', { schema: { response: { 200: { type: 'string' } } } }, async (_req, reply) => {
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics())
  })
}
