/**
 * `npm run serve`: the ingest service against the Redis named in the environment. Owns listen and
 * signals; everything else is in buildApp.
 */
import { ApiKeys, checkRedisServer, connectRedis, createRedisClient, StreamCatalog } from '@sluice/store'
import { buildApp, http2Of } from './app.js'
import { ConfigError, authRequired, loadConfig, type Config } from './config.js'
import { Lifecycle, drainAndClose, trackSockets } from './shutdown.js'

function fail(message: string, code = 1): never {
  process.stderr.write(`sluice: ${message}\n`)
  process.exit(code)
}

async function main(): Promise<void> {
  let config: Config
  try {
    config = loadConfig()
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message, 2)
    throw err
  }

  const redis = createRedisClient({ url: config.redisUrl, commandTimeoutMs: config.redisCommandTimeoutMs, connectionName: 'sluice-ingest' })
  // Errors reach the requests (503) and the log below; without a listener ioredis prints every
  // failed reconnection attempt to stderr.
  redis.on('error', () => undefined)
  // ioredis keeps retrying in the background; give it a bounded time to come up at start.
  const connected = await Promise.race([
    connectRedis(redis).then(() => true, () => false),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 10_000).unref()),
  ])
  if (!connected || redis.status !== 'ready') {
    redis.disconnect()
    fail(`cannot reach Redis at ${config.redisUrl} (set SLUICE_REDIS_URL, or run "npm start" for a local one)`)
  }
  const check = await checkRedisServer(redis)
  if (config.redisFsync) {
    const nodes = 'nodes' in redis ? redis.nodes('master') : [redis]
    for (const node of nodes) {
      const reply = (await node.config('GET', 'appendfsync').catch(() => null)) as string[] | null
      const actual = reply?.[1]
      if (actual === undefined) check.warnings.push('CONFIG GET appendfsync is not allowed: cannot confirm SLUICE_REDIS_FSYNC')
      else if (actual !== config.redisFsync) check.errors.push(`SLUICE_REDIS_FSYNC=${config.redisFsync} but Redis runs with appendfsync ${actual}`)
    }
  }
  if (check.errors.length) {
    redis.disconnect()
    fail(`Redis is not fit to hold acknowledged records:\n  - ${check.errors.join('\n  - ')}`)
  }

  // Access: keys are required unless bound to loopback (or SLUICE_AUTH=off); required with no key
  // in Redis, nobody could use the service, so it refuses to start and says how to make one.
  const auth = authRequired(config)
  if (auth && !config.awsCredentials && (await new ApiKeys(redis).count()) === 0) {
    redis.disconnect()
    fail(
      `credentials are required (${config.auth === 'on' ? 'SLUICE_AUTH=on' : `listening on ${config.host}, not loopback`}) but no API key exists and SLUICE_AWS_CREDENTIALS is not set: ` +
        'create a key with `npm run keys -- create --scope admin:*`, or set SLUICE_AUTH=off to run without access control',
    )
  }
  if (!auth) check.warnings.push(`access control is off (${config.auth === 'off' ? 'SLUICE_AUTH=off' : `listening on ${config.host}, loopback only`}): anyone who reaches the port can read and write every stream`)

  const lifecycle = new Lifecycle()
  const app = await buildApp({ config, redis, lifecycle })
  const sockets = trackSockets(app)
  for (const w of check.warnings) app.log.warn(w)
  // One line when Redis goes away and one when it is back, not one per reconnection attempt.
  let redisDown = false
  redis.on('error', (err: Error) => {
    if (redisDown) return
    redisDown = true
    app.log.warn({ err: err.message }, 'lost the connection to Redis: requests get 503 until it is back')
  })
  redis.on('ready', () => {
    if (!redisDown) return
    redisDown = false
    app.log.info('connected to Redis again')
  })
  if (config.awsCredentials) app.log.info({ accessKeys: config.awsCredentials.size }, 'the Kinesis endpoint verifies SigV4 signatures')
  app.addHook('onClose', async () => {
    await redis.quit().catch(() => redis.disconnect())
  })

  // Finish removing streams whose deletion was interrupted (a crash between catalog and keys).
  new StreamCatalog(redis).purgePending().then(
    (n) => n && app.log.info({ purged: n }, 'removed keys of deleted streams'),
    (err: unknown) => app.log.warn({ err }, 'could not purge deleted streams; will retry at next start'),
  )

  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    app.log.info({ signal }, 'shutting down')
    drainAndClose(app, lifecycle, sockets, config.shutdownTimeoutMs, http2Of.get(app)?.sessions).then(
      () => process.exit(0),
      (err: unknown) => {
        app.log.error({ err }, 'error during shutdown')
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))

  try {
    const address = await app.listen({ host: config.host, port: config.port })
    app.log.info({ address, redis: config.redisUrl.replace(/\/\/[^@]*@/, '//***@') }, 'sluice ingest listening')
  } catch (err) {
    fail(`cannot listen on ${config.host}:${config.port}: ${(err as Error).message}`)
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`sluice: fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
  process.exit(1)
})
