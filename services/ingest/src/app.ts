/**
 * buildApp: the fastify application with every route, the error handler and its resources. It does
 * not listen: tests use app.inject() or listen themselves; server.ts owns listen and signals.
 */
import type { Ajv } from 'ajv'
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Duplex, Writable } from 'node:stream'
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify'
import { createIteratorCodec, isBase64, type ApiErrorDetail } from '@sluice/protocol'
import { ApiKeys, ArchiveReader, ConsumerGroups, ShardStore, StreamCatalog, connectRedis, createRedisClient, createS3Client, type SluiceRedis, type StoreObserver } from '@sluice/store'
import { authRequired, type Config } from './config.js'
import type { ActionContext } from './context.js'
import { ApiError, toApiError, validationError } from './errors.js'
import { resolveIteratorSecret } from './iterator-secret.js'
import { Lifecycle } from './shutdown.js'
import { SluiceLogController, loggerOptions } from './logging.js'
import { IngestMetrics } from './metrics.js'
import { StreamDirectory } from './stream-directory.js'
import { healthRoutes, metricsRoute } from './routes/health.js'
import { refreshGroupMetrics } from './actions/consumer-groups.js'
import { authHooks } from './auth.js'
import { recordRoutes } from './routes/records.js'
import { streamRoutes } from './routes/streams.js'
import { kinesisRoutes } from './kinesis/dispatcher.js'
import { SigV4Verifier } from './kinesis/sigv4.js'
import { kinesisPutFastPath, type FastPath } from './kinesis/fast-path.js'
import { groupRoutes } from './routes/groups.js'
import { keyRoutes } from './routes/keys.js'
import { createDualProtocolServer, type DualProtocolServer } from './http-server.js'
import { DEFAULT_BODY_LIMIT, jsonBodyParser } from './body-parsing.js'

export interface AppOptions {
  config: Config
  /** An existing client (tests share one); otherwise the app creates one and closes it on close. */
  redis?: SluiceRedis
  /** Where log lines go (default stdout); tests capture them. */
  logStream?: Writable
  now?: () => number
  iteratorSecret?: Uint8Array
  /** Shared with the owner of the server for graceful shutdown (server.ts). */
  lifecycle?: Lifecycle
  /** false: Kinesis puts go through fastify like every request (tests compare both ways in). */
  kinesisFastPath?: boolean
}

/** The HTTP/2 side of the app's server, for graceful shutdown; set by buildApp. */
export const http2Of = new WeakMap<FastifyInstance, DualProtocolServer>()
/** The Kinesis puts' fast path of an app, when it has one; set by buildApp. */
export const fastPathOf = new WeakMap<FastifyInstance, FastPath>()

/** Every body is small but a put's (body-parsing.ts has the limits). */
export { DEFAULT_BODY_LIMIT }

interface AjvErrorLike {
  instancePath: string
  keyword: string
  message?: string
  params: Record<string, unknown>
  parentSchema?: { description?: string }
}

/** `/records/3/data` → `records[3].data` */
function fieldPath(instancePath: string, extra?: unknown): string {
  const parts = instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
  if (typeof extra === 'string') parts.push(extra)
  let out = ''
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out ? `.${p}` : p
  return out
}

function ajvDetails(errors: readonly AjvErrorLike[], context: string | undefined): ApiErrorDetail[] {
  const details: ApiErrorDetail[] = []
  for (const e of errors) {
    let field: string
    let message: string
    if (e.keyword === 'required') {
      field = fieldPath(e.instancePath, e.params.missingProperty)
      message = 'is required'
    } else if (e.keyword === 'additionalProperties') {
      field = fieldPath(e.instancePath, e.params.additionalProperty)
      message = 'is not a known member'
    } else {
      field = fieldPath(e.instancePath)
      const rule = e.parentSchema?.description
      const allowed = e.params.allowedValues
      if (e.keyword === 'enum' && Array.isArray(allowed)) message = `must be one of ${allowed.join(', ')}`
      else message = (e.keyword === 'pattern' || e.keyword === 'format') && rule ? `must be ${rule}` : (e.message ?? 'is not valid')
    }
    details.push({ field: field || (context === 'body' ? 'body' : (context ?? 'request')), message })
  }
  return details
}

/**
 * What Node's HTTP parser refuses before any route runs — a malformed request, headers over the
 * limit, a request not received in time — answered in the API's error shape (fastify's default
 * answer has another), then the connection is closed, as Node does.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const e =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? new ApiError('RequestTimeout', 'The request was not received in time (SLUICE_HEADERS_TIMEOUT_MS for its headers, SLUICE_REQUEST_TIMEOUT_MS in all)')
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? new ApiError('HeadersTooLarge', 'The request line and headers are larger than the 16 KiB the server takes')
        : new ApiError('ValidationError', `request: not a valid HTTP/1.1 request (${err.code ?? 'parse error'})`, { field: 'request' })
  const body = JSON.stringify(e.toBody())
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${e.status} ${STATUS_CODES[e.status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    )
  }
  socket.destroy(err)
}

export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const { config } = opts
  let dual: DualProtocolServer | undefined
  // Kinesis puts take a shorter way in than fastify's (kinesis/fast-path.ts), once the app is built.
  let fastPath: FastPath | undefined
  // Request ids as fastify's default makes them, from one counter for both ways in.
  let lastRequestId = 0
  const requestId = (): string => {
    lastRequestId = (lastRequestId + 1) & 0x7fffffff
    return `req-${lastRequestId.toString(36)}`
  }
  const app = Fastify({
    // HTTP/1.1 and cleartext HTTP/2 on one port (the AWS SDK's default handler speaks h2c).
    serverFactory: (handler) => {
      const route = (req: IncomingMessage, res: ServerResponse): void => {
        if (fastPath === undefined || !fastPath.take(req, res)) handler(req, res)
      }
      dual = createDualProtocolServer(route, {
        maxConnections: config.maxConnections,
        headersTimeoutMs: config.headersTimeoutMs,
        requestTimeoutMs: config.requestTimeoutMs,
        keepAliveTimeoutMs: config.keepAliveTimeoutMs,
        connectionTimeoutMs: config.connectionTimeoutMs,
      })
      return dual.server
    },
    logger: loggerOptions(config.logLevel, opts.logStream),
    logController: new SluiceLogController(),
    requestIdHeader: 'x-request-id',
    genReqId: requestId,
    bodyLimit: DEFAULT_BODY_LIMIT,
    return503OnClosing: true,
    clientErrorHandler: answerClientError,
    // No automatic HEAD for every GET: a HEAD of a read would run the read (and spend a read token),
    // and none is documented. The health checks take HEAD explicitly (routes/health.ts).
    exposeHeadRoutes: false,
    // Connections are closed by drainAndClose (shutdown.ts), not by fastify's close.
    forceCloseConnections: false,
    // Long enough that an over-long stream name reaches its schema and gets a 400 naming the field.
    routerOptions: { maxParamLength: 512 },
    // Errors the router raises before any route runs: answer them in the API's shape too.
    frameworkErrors: (err, _req, reply) => {
      const e = new ApiError('ValidationError', `path: ${err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'a path segment is too long' : 'not a valid URL'}`, {
        field: 'path',
      })
      void (reply as unknown as FastifyReply).code(400).send(e.toBody())
    },
    ajv: {
      customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: true, verbose: true },
      plugins: [(ajv: Ajv) => ajv.addFormat('base64', { type: 'string', validate: isBase64 })],
    },
  })

  // Set as fastify starts closing (it then answers every request 503): the first preClose hook, so
  // that the Kinesis puts' fast path stops taking requests in the same turn.
  let closing = false
  app.addHook('preClose', (done) => {
    closing = true
    done()
  })

  // Only JSON bodies: fastify also parses text/plain by default, which would turn a wrong content
  // type into a confusing schema error instead of a 415. JSON goes through our parser, which also
  // refuses invalid UTF-8, deep nesting, huge strings and prototype members (body-parsing.ts).
  app.removeContentTypeParser(['text/plain', 'application/json'])
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => jsonBodyParser(req, body as Buffer, done))

  const ownsRedis = opts.redis === undefined
  const redis = opts.redis ?? createRedisClient({ url: config.redisUrl, commandTimeoutMs: config.redisCommandTimeoutMs, connectionName: 'sluice-ingest' })
  if (ownsRedis) {
    redis.on('error', () => undefined) // reported through the requests' 503s
    await connectRedis(redis)
    app.addHook('onClose', async () => {
      await redis.quit().catch(() => redis.disconnect())
    })
  }
  const metrics = new IngestMetrics()
  const observeStore: StoreObserver = (operation, seconds, outcome) => metrics.redisDuration.observe({ operation, outcome }, seconds)
  const catalog = new StreamCatalog(redis, observeStore)
  const keys = new ApiKeys(redis)
  const ctx: ActionContext = {
    catalog,
    shards: new ShardStore(redis, observeStore),
    groups: new ConsumerGroups(redis, observeStore),
    keys,
    directory: new StreamDirectory(catalog),
    iterators: createIteratorCodec(opts.iteratorSecret ?? resolveIteratorSecret(config.iteratorSecret, config.dataDir)),
    limits: {
      maxShards: config.maxShards,
      shardWriteRecordsPerSecond: config.shardWriteRecordsPerSecond,
      shardWriteBytesPerSecond: config.shardWriteBytesPerSecond,
      shardReadsPerSecond: config.shardReadsPerSecond,
      shardReadBytesPerSecond: config.shardReadBytesPerSecond,
      maxUnarchivedBytes: config.s3 ? config.maxUnarchivedBytes : 0,
    },
    archive: config.s3
      ? new ArchiveReader(
          redis,
          // A reader waits for S3 at most this long, then gets a 503 with Retry-After.
          createS3Client(config.s3, { requestHandler: { connectionTimeout: 3000, requestTimeout: 10_000, throwOnRequestTimeout: true } }),
          config.s3.bucket,
          config.archiveCacheBytes,
        )
      : undefined,
    now: opts.now ?? Date.now,
    metrics,
  }

  const lifecycle = opts.lifecycle ?? new Lifecycle()
  let closed = false
  app.addHook('onClose', async () => {
    closed = true
  })
  app.addHook('onRequest', (req, reply, done) => {
    // Bodies are read as sent: a compressed one would be refused as bad JSON, and one labelled
    // compressed but sent plain taken. Neither: say what is wrong.
    const encoding = req.headers['content-encoding']
    if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
      done(new ApiError('UnsupportedMediaType', `Content-Encoding ${encoding.slice(0, 40)} is not supported: send the body uncompressed`))
      return
    }
    if (lifecycle.draining) {
      // Answer it, then let the client open its next connection elsewhere (HTTP/2 sessions get a
      // GOAWAY instead: connection headers are not allowed there).
      if (req.raw.httpVersionMajor === 1) reply.header('connection', 'close')
      lifecycle.lastRequestAtMs = Date.now()
    }
    done()
  })
  // Callback hooks, not async ones: each runs on every request, and a promise per hook is measurable.
  app.addHook('onSend', (req, reply, payload, done) => {
    reply.header('x-request-id', req.id)
    done(null, payload)
  })
  app.addHook('onResponse', (req, reply, done) => {
    // The route template, never the raw URL: stream names and ids stay out of this label.
    const route = req.routeOptions.url ?? 'unmatched'
    metrics.requestDuration.observe({ route, method: req.method, status: String(reply.statusCode) }, reply.elapsedTime / 1000)
    done()
  })

  app.setErrorHandler((err, req, reply) => {
    let apiError: ApiError
    const validation = (err as { validation?: AjvErrorLike[]; validationContext?: string }).validation
    if (validation) {
      apiError = validationError(ajvDetails(validation, (err as { validationContext?: string }).validationContext))
    } else {
      const mapped = toApiError(err, { bodyLimit: req.routeOptions.bodyLimit })
      apiError = mapped.error
      if (mapped.internal) req.log.error({ err }, 'internal error')
    }
    if (apiError.retryAfterSeconds !== undefined) reply.header('retry-after', String(apiError.retryAfterSeconds))
    if (apiError.status >= 500 && !validation) req.log.warn({ code: apiError.code, msg: apiError.message }, 'request failed')
    return reply.code(apiError.status).send(apiError.toBody())
  })
  app.setNotFoundHandler((req, reply) => {
    const e = new ApiError('NotFound', `No route ${req.method} ${req.url.split('?')[0]}`)
    return reply.code(404).send(e.toBody())
  })

  if (authRequired(config)) authHooks(app, keys, { kinesisVerified: config.awsCredentials !== undefined, metricsBehindKey: config.metricsAuth === 'key' })
  // A /v1 route that takes no query parameters refuses any (400 naming it), as openapi.yaml says:
  // a misspelt parameter must not be silently ignored.
  app.addHook('onRoute', (route) => {
    if (!route.url.startsWith('/v1/')) return
    const schema = (route.schema ??= {})
    schema.querystring ??= { type: 'object', additionalProperties: false, properties: {} }
  })
  healthRoutes(app, redis, () => closed || lifecycle.draining)
  metricsRoute(app, metrics, () => refreshGroupMetrics(ctx))
  streamRoutes(app, ctx)
  recordRoutes(app, ctx)
  groupRoutes(app, ctx)
  keyRoutes(app, ctx)
  const verifier = config.awsCredentials ? new SigV4Verifier(config.awsCredentials) : undefined
  kinesisRoutes(app, ctx, verifier)
  // With auth on and no AWS keys to verify with, every Kinesis request is refused by a hook: fastify's.
  if (opts.kinesisFastPath !== false && (verifier || !authRequired(config))) {
    fastPath = kinesisPutFastPath({ ctx, log: app.log, requestId, closing: () => closing || lifecycle.draining, verifier })
    fastPathOf.set(app, fastPath)
  }
  if (dual) http2Of.set(app, dual)
  return app
}
