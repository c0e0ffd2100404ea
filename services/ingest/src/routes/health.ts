/** Liveness (the process answers), readiness (Redis answers and accepts a write) and metrics. */
import type { FastifyInstance } from 'fastify'
import { catalogKeys, guarded, type SluiceRedis } from '@sluice/store'
import { ApiError } from '../errors.js'
import type { IngestMetrics } from '../metrics.js'

const healthResponse = { type: 'object', required: ['status'], properties: { status: { type: 'string' } } } as const

export function healthRoutes(app: FastifyInstance, redis: SluiceRedis, isClosing: () => boolean): void {
  // HEAD too: some load balancers check health with it.
  app.get('/livez', { exposeHeadRoute: true, schema: { response: { 200: healthResponse } } }, async () => ({ status: 'ok' }))

  app.get('/readyz', { exposeHeadRoute: true, schema: { response: { 200: healthResponse } } }, async () => {
    if (isClosing()) throw new ApiError('ServiceUnavailable', 'shutting down', { retryAfterSeconds: 1 })
    // A write, not just PING: a Redis that is out of memory or read-only cannot take puts.
    await guarded(redis.set(catalogKeys.readiness, String(Date.now()), 'PX', 60_000))
    return { status: 'ok' }
  })
}

/**
 * Prometheus text format; open like the health routes (see README). `beforeScrape` refreshes the
 * gauges that are read from Redis rather than counted as requests pass (consumer-group lag).
 */
export function metricsRoute(app: FastifyInstance, metrics: IngestMetrics, beforeScrape?: () => Promise<void>): void {
  app.get('/metrics', { schema: { response: { 200: { type: 'string' } } } }, async (req, reply) => {
    if (beforeScrape) {
      // A scrape still answers when Redis does not: the gauges keep their last values.
      await beforeScrape().catch((err: unknown) => req.log.warn({ err: String(err) }, 'could not refresh consumer-group metrics'))
    }
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics())
  })
}
