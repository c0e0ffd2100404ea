/**
 * Access control: API keys (`Authorization: Bearer sluice_…`) with scopes per stream (see
 * @sluice/store api-keys.ts). Every route says what it needs in RULES; a route that is not listed
 * needs a key with a scope on every stream, so a new route is closed until it is given a rule.
 *
 * Order: the key is checked when the request arrives (401, before the body is read); the scope when
 * the stream is known (403) — for most routes from the path, for creating a stream from its body.
 * Neither answer says whether the stream exists: both come before any lookup.
 *
 * The Kinesis endpoint authenticates with SigV4 instead (kinesis/sigv4.ts), which needs each access
 * key's secret on the server (SLUICE_AWS_CREDENTIALS). Without them, while auth is on, that endpoint
 * refuses every request (UnrecognizedClientException) rather than let an unsigned caller in.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { allows, type ApiKeys, type Scope, type ScopeAction } from '@sluice/store'
import { ApiError } from './errors.js'
import { KinesisError } from './kinesis/errors.js'

export type AuthMode = 'on' | 'off'

interface Rule {
  /** 'open': no key; 'any': any scope on the stream; '*' as stream: a scope on every stream */
  action: ScopeAction | 'any' | 'open'
  /** where the stream name comes from */
  stream: 'path' | 'body' | 'all'
}

const RULES: Record<string, Rule> = {
  'GET /livez': { action: 'open', stream: 'all' },
  'HEAD /livez': { action: 'open', stream: 'all' },
  'GET /readyz': { action: 'open', stream: 'all' },
  'HEAD /readyz': { action: 'open', stream: 'all' },
  'GET /metrics': { action: 'open', stream: 'all' },
  'POST /v1/streams': { action: 'admin', stream: 'body' },
  'GET /v1/streams': { action: 'any', stream: 'all' },
  'GET /v1/streams/:name': { action: 'any', stream: 'path' },
  'PATCH /v1/streams/:name': { action: 'admin', stream: 'path' },
  'DELETE /v1/streams/:name': { action: 'admin', stream: 'path' },
  'POST /v1/streams/:name/records': { action: 'write', stream: 'path' },
  'POST /v1/streams/:name/shards/:shardId/records': { action: 'write', stream: 'path' },
  'GET /v1/streams/:name/shards/:shardId/records': { action: 'read', stream: 'path' },
  'GET /v1/streams/:name/groups': { action: 'read', stream: 'path' },
  'GET /v1/streams/:name/groups/:group': { action: 'read', stream: 'path' },
  'POST /v1/streams/:name/groups/:group/workers/:workerId/heartbeat': { action: 'read', stream: 'path' },
  'DELETE /v1/streams/:name/groups/:group/workers/:workerId': { action: 'read', stream: 'path' },
  'PUT /v1/streams/:name/groups/:group/shards/:shardId/checkpoint': { action: 'read', stream: 'path' },
  // Whoever manages keys can give any scope: only an admin of every stream may.
  'POST /v1/keys': { action: 'admin', stream: 'all' },
  'GET /v1/keys': { action: 'admin', stream: 'all' },
  'DELETE /v1/keys/:id': { action: 'admin', stream: 'all' },
}

const scopesOf = new WeakMap<FastifyRequest, Scope[]>()

/** With SLUICE_METRICS_AUTH=key, scraping needs a key with a scope on every stream (labels name them all). */
const METRICS_BEHIND_KEY: Rule = { action: 'any', stream: 'all' }

function ruleFor(req: FastifyRequest, metricsBehindKey = false): Rule {
  const route = `${req.method} ${req.routeOptions.url ?? ''}`
  if (metricsBehindKey && route === 'GET /metrics') return METRICS_BEHIND_KEY
  return RULES[route] ?? { action: 'any', stream: 'all' }
}

function bearer(req: FastifyRequest): string | null {
  const h = req.headers.authorization
  if (typeof h !== 'string') return null
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h)
  return m ? m[1]! : null
}

function check(req: FastifyRequest, rule: Rule, stream: string): void {
  const scopes = scopesOf.get(req) ?? []
  if (!allows(scopes, rule.action === 'open' ? 'any' : rule.action, stream)) {
    const what = stream === '*' ? 'every stream' : `stream ${stream}`
    throw new ApiError('Forbidden', `This API key has no ${rule.action === 'any' ? '' : `${rule.action} `}scope on ${what}`)
  }
}

export function authHooks(app: FastifyInstance, keys: ApiKeys, options: { kinesisVerified: boolean; metricsBehindKey?: boolean }): void {
  app.addHook('onRequest', async (req) => {
    if (req.method === 'POST' && req.url === '/') {
      // Signatures are checked by the Kinesis dispatcher, once the body they cover has arrived.
      if (options.kinesisVerified) return
      throw new KinesisError(
        'UnrecognizedClientException',
        'This Sluice requires credentials (SLUICE_AUTH=on) and has no AWS access keys to verify signatures with (SLUICE_AWS_CREDENTIALS): use the REST API with an API key',
      )
    }
    const rule = ruleFor(req, options.metricsBehindKey)
    if (rule.action === 'open') return
    const token = bearer(req)
    const scopes = token ? await keys.verify(token) : null
    if (!scopes) throw new ApiError('Unauthorized', token ? 'The API key is not valid (unknown, revoked or mistyped)' : undefined)
    scopesOf.set(req, scopes)
    if (rule.stream === 'path') check(req, rule, (req.params as { name?: string }).name ?? '')
    else if (rule.stream === 'all') check(req, rule, '*')
  })
  // The stream a request names in its body is known once the body is parsed and validated.
  app.addHook('preHandler', async (req) => {
    const rule = ruleFor(req)
    if (rule.stream !== 'body' || rule.action === 'open') return
    const name = (req.body as { name?: unknown } | undefined)?.name
    check(req, rule, typeof name === 'string' ? name : '')
  })
}
