/**
 * `npm run serve:archiver`: the archiver against the Redis and S3 named in the environment, with
 * /metrics (Prometheus), /livez (also /healthz) and /readyz (Redis and the bucket answer) on
 * SLUICE_ARCHIVER_METRICS_PORT. SIGTERM finishes the object in
 * hand and exits; a kill -9 at any point loses nothing (the next holder of the lease redoes the
 * same object).
 */
import { createServer } from 'node:http'
import { HeadBucketCommand } from '@aws-sdk/client-s3'
import { pino } from 'pino'
import { connectRedis, createRedisClient, createS3Client } from '@sluice/store'
import { Archiver } from './archiver.js'
import { ConfigError, loadArchiverConfig, type ArchiverConfig } from './config.js'
import { ArchiverMetrics } from './metrics.js'

function fail(message: string, code = 1): never {
  process.stderr.write(`sluice-archiver: ${message}\n`)
  process.exit(code)
}

async function main(): Promise<void> {
  let config: ArchiverConfig
  try {
    config = loadArchiverConfig()
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message, 2)
    throw err
  }
  const log = pino({ level: config.logLevel, base: { service: 'sluice-archiver' } })
  const redis = createRedisClient({ url: config.redisUrl, commandTimeoutMs: config.redisCommandTimeoutMs, connectionName: 'sluice-archiver' })
  const connected = await Promise.race([
    connectRedis(redis).then(() => true, () => false),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 10_000).unref()),
  ])
  if (!connected) {
    redis.disconnect()
    fail(`cannot reach Redis at ${config.redisUrl} (set SLUICE_REDIS_URL)`)
  }
  // Errors are reported by the loop; this only keeps ioredis from printing them unhandled.
  redis.on('error', () => undefined)

  const metrics = new ArchiverMetrics()
  const s3 = createS3Client(config.s3)
  const archiver = new Archiver({
    redis,
    s3,
    settings: config.s3,
    ...(config.archiverId ? { id: config.archiverId } : {}),
    objects: { maxBytes: config.archiveMaxBytes, maxAgeMs: config.archiveMaxAgeMs },
    leaseTtlMs: config.leaseTtlMs,
    hotRetentionMs: config.hotRetentionMs,
    hotMaxBytes: config.hotMaxBytes,
    intervalMs: config.intervalMs,
    concurrency: config.concurrency,
    metrics,
    log,
  })

  const http = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/metrics') {
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500).end(String(err)),
      )
    } else if (req.method === 'GET' && (req.url === '/healthz' || req.url === '/livez')) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'ok', archiver: archiver.id }))
    } else if (req.method === 'GET' && req.url === '/readyz') {
      // Ready: Redis answers and the bucket is reachable.
      Promise.all([redis.ping(), s3.send(new HeadBucketCommand({ Bucket: config.s3.bucket }))]).then(
        () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'ok' })),
        (err: unknown) =>
          res
            .writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' })
            .end(JSON.stringify({ error: { code: 'ServiceUnavailable', message: `not ready: ${(err as Error).message}` } })),
      )
    } else {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'NotFound', message: `No route ${req.method} ${req.url}` } }))
    }
  })
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject)
    http.listen(config.metricsPort, config.metricsHost, () => resolve())
  })
  const address = http.address()
  const port = typeof address === 'object' && address ? address.port : config.metricsPort
  log.info({ archiver: archiver.id, bucket: config.s3.bucket, prefix: config.s3.prefix, metrics: `http://${config.metricsHost}:${port}/metrics` }, 'archiver started')
  archiver.start()

  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    log.info({ signal }, 'shutting down')
    archiver
      .stop()
      .then(() => redis.quit())
      .then(
        () => {
          http.close()
          process.exit(0)
        },
        () => process.exit(1),
      )
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
}

main().catch((err: unknown) => fail(String((err as Error)?.stack ?? err)))
