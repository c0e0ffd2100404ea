/**
 * API keys and scopes: every route × no key / bad key / wrong scope / right scope, prefixes,
 * revocation, no plaintext in Redis, the Kinesis endpoint closed while it has no access keys to
 * verify SigV4 with, /metrics behind a key when asked, and the start-up rule (keys required off loopback).
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ApiKeys, catalogKeys, connectRedis, createRedisClient, type SluiceRedis } from '@sluice/store'
import { freePort, startProcess } from '@sluice/testkit'
import { b64, startSluice, type Sluice } from './harness.js'

const serverJs = fileURLToPath(new URL('../src/server.js', import.meta.url))

describe('access control (SLUICE_AUTH=on)', () => {
  let s: Sluice
  let redis: SluiceRedis
  let keys: ApiKeys
  const token: Record<string, string> = {}
  before(async () => {
    s = await startSluice({ env: { SLUICE_AUTH: 'on', SLUICE_SHARD_READS_PER_SECOND: '1000' } })
    redis = createRedisClient({ url: s.redis.url })
    await connectRedis(redis)
    keys = new ApiKeys(redis)
    for (const [name, scopes] of Object.entries({
      admin: ['admin:*'],
      writer: ['write:orders'],
      reader: ['read:orders'],
      logs: ['write:logs-*', 'read:logs-*'],
      other: ['admin:other'],
    })) {
      token[name] = (await keys.create(name, scopes)).token
    }
  })
  after(async () => {
    redis?.disconnect()
    await s?.close()
  })

  const as = (who: string | null, method: string, path: string, body?: unknown) =>
    s.request(method, path, body, who === null ? {} : { authorization: who.startsWith('sluice_') || who.startsWith('x') ? `Bearer ${who}` : `Bearer ${token[who]}` })

  it('each route: no key and a bad key are 401, a key without the scope is 403, the right scope passes', async () => {
    const put = { records: [{ partitionKey: 'k', data: b64('x') }] }
    const doomed = await keys.create('doomed', ['read:nothing'])
    const cases: Array<{ method: string; path: string; body?: unknown; allowed: string; denied: string; ok: number }> = [
      { method: 'POST', path: '/v1/streams', body: { name: 'orders', shardCount: 1 }, allowed: 'admin', denied: 'writer', ok: 201 },
      { method: 'GET', path: '/v1/streams/orders', allowed: 'reader', denied: 'other', ok: 200 },
      { method: 'POST', path: '/v1/streams/orders/records', body: put, allowed: 'writer', denied: 'reader', ok: 200 },
      { method: 'POST', path: '/v1/streams/orders/shards/shardId-000000000000/records', body: put, allowed: 'writer', denied: 'reader', ok: 200 },
      { method: 'GET', path: '/v1/streams/orders/shards/shardId-000000000000/records?from=TRIM_HORIZON', allowed: 'reader', denied: 'writer', ok: 200 },
      { method: 'POST', path: '/v1/streams/orders/groups/g/workers/w/heartbeat', body: {}, allowed: 'reader', denied: 'writer', ok: 200 },
      { method: 'GET', path: '/v1/streams/orders/groups', allowed: 'reader', denied: 'writer', ok: 200 },
      { method: 'GET', path: '/v1/streams/orders/groups/g', allowed: 'reader', denied: 'other', ok: 200 },
      { method: 'DELETE', path: '/v1/streams/orders/groups/g/workers/w', allowed: 'reader', denied: 'writer', ok: 204 },
      { method: 'GET', path: '/v1/streams', allowed: 'admin', denied: 'reader', ok: 200 },
      { method: 'PATCH', path: '/v1/streams/orders', body: { retentionHours: 48 }, allowed: 'admin', denied: 'writer', ok: 200 },
      { method: 'DELETE', path: '/v1/streams/orders', allowed: 'admin', denied: 'reader', ok: 204 },
      // Keys: admin of one stream is not enough (it could give itself any scope).
      { method: 'POST', path: '/v1/keys', body: { scopes: ['read:orders'] }, allowed: 'admin', denied: 'other', ok: 201 },
      { method: 'GET', path: '/v1/keys', allowed: 'admin', denied: 'other', ok: 200 },
      { method: 'DELETE', path: `/v1/keys/${doomed.id}`, allowed: 'admin', denied: 'other', ok: 204 },
    ]
    for (const c of cases) {
      const label = `${c.method} ${c.path}`
      const none = await as(null, c.method, c.path, c.body)
      assert.equal(none.status, 401, `${label} without a key`)
      assert.equal(none.body.error.code, 'Unauthorized')
      assert.equal((await as('sluice_0123456789abcdef_' + 'A'.repeat(43), c.method, c.path, c.body)).status, 401, `${label} with an unknown key`)
      assert.equal((await as('xnot-a-key', c.method, c.path, c.body)).status, 401, `${label} with a malformed key`)
      const denied = await as(c.denied, c.method, c.path, c.body)
      assert.equal(denied.status, 403, `${label} as ${c.denied}: ${denied.text}`)
      assert.equal(denied.body.error.code, 'Forbidden')
      const ok = await as(c.allowed, c.method, c.path, c.body)
      assert.equal(ok.status, c.ok, `${label} as ${c.allowed}: ${ok.text}`)
    }
    // Health and metrics stay open.
    for (const path of ['/livez', '/readyz', '/metrics']) assert.equal((await as(null, 'GET', path)).status, 200, path)
    // HEAD on the health checks too (load balancers use it); no other route answers HEAD.
    for (const path of ['/livez', '/readyz']) assert.equal((await as(null, 'HEAD', path)).status, 200, `HEAD ${path}`)
    assert.equal((await as('admin', 'HEAD', '/v1/streams')).status, 404, 'HEAD /v1/streams')
  })

  it('a prefix scope covers its streams only, and a 403 does not tell whether a stream exists', async () => {
    assert.equal((await as('admin', 'POST', '/v1/streams', { name: 'logs-app', shardCount: 1 })).status, 201)
    assert.equal((await as('admin', 'POST', '/v1/streams', { name: 'secret', shardCount: 1 })).status, 201)
    assert.equal((await as('logs', 'POST', '/v1/streams/logs-app/records', { records: [{ partitionKey: 'k', data: b64('x') }] })).status, 200)
    assert.equal((await as('logs', 'GET', '/v1/streams/logs-app/shards/shardId-000000000000/records?from=TRIM_HORIZON')).status, 200)
    assert.equal((await as('logs', 'POST', '/v1/streams', { name: 'logs-new', shardCount: 1 })).status, 403, 'write and read do not include admin')
    const existing = await as('logs', 'GET', '/v1/streams/secret')
    const missing = await as('logs', 'GET', '/v1/streams/no-such-stream')
    assert.equal(existing.status, 403)
    assert.equal(missing.status, 403)
    assert.equal(existing.body.error.code, missing.body.error.code)
  })

  it('a revoked key is refused; Redis holds no token, only salted hashes', async () => {
    const { id, token: t } = await keys.create('temp', ['read:*'])
    assert.ok(await keys.revoke(id))
    assert.equal((await as(t, 'GET', '/v1/streams/logs-app')).status, 401)
    const stored = JSON.stringify(await redis.hgetall(catalogKeys.apiKeys))
    // The secret is everything after "sluice_<id>_" (base64url: it may hold '_' itself).
    for (const value of Object.values(token)) assert.ok(!stored.includes(value.slice('sluice_'.length + 17)), 'no secret in Redis')
    assert.ok((await keys.list()).every((k) => k.scopes.length > 0 && !('hash' in k)))
  })

  it('keys made over REST work at once; revoked over REST they are refused at once; the token is never listed', async () => {
    const made = await as('admin', 'POST', '/v1/keys', { scopes: ['write:logs-*'], name: 'rest-made' })
    assert.equal(made.status, 201, made.text)
    // A name is printed in terminals and tables: no control characters, C1 (U+0080–U+009F) included.
    for (const name of ['tab\there', 'next\u0085line', 'csi\u009b2J']) {
      const bad = await as('admin', 'POST', '/v1/keys', { scopes: ['write:logs-*'], name })
      assert.equal(bad.status, 400, JSON.stringify(name))
      assert.equal(bad.body.error.field, 'name')
    }
    const t: string = made.body.token
    assert.equal((await as(t, 'POST', '/v1/streams/logs-app/records', { records: [{ partitionKey: 'k', data: b64('y') }] })).status, 200)
    assert.equal((await as(t, 'GET', '/v1/streams/logs-app/shards/shardId-000000000000/records?from=TRIM_HORIZON')).status, 403)
    assert.equal((await as(t, 'GET', '/v1/keys')).status, 403, 'a key cannot list keys without admin on *')
    const listed = await as('admin', 'GET', '/v1/keys')
    assert.ok(listed.body.keys.some((k: { id: string; name: string }) => k.id === made.body.id && k.name === 'rest-made'))
    assert.ok(!listed.text.includes(t.slice('sluice_'.length + 17)), 'no secret in a listing')
    assert.equal((await as('admin', 'DELETE', `/v1/keys/${made.body.id}`)).status, 204)
    assert.equal((await as(t, 'POST', '/v1/streams/logs-app/records', { records: [{ partitionKey: 'k', data: b64('y') }] })).status, 401)
    assert.equal((await as('admin', 'DELETE', `/v1/keys/${made.body.id}`)).body.error.code, 'KeyNotFound')
  })

  it('the Kinesis endpoint refuses every call while it has no access keys to verify SigV4 with', async () => {
    const res = await s.request('POST', '/', { StreamName: 'logs-app' }, {
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': 'Kinesis_20131202.DescribeStreamSummary',
      authorization: 'AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=host, Signature=abcdef',
    })
    assert.equal(res.status, 400)
    assert.equal(res.body.__type, 'UnrecognizedClientException')
  })
})

describe('/metrics behind a key (SLUICE_METRICS_AUTH=key)', () => {
  let s: Sluice
  let redis: SluiceRedis
  before(async () => {
    s = await startSluice({ env: { SLUICE_AUTH: 'on', SLUICE_METRICS_AUTH: 'key' } })
    redis = createRedisClient({ url: s.redis.url })
    await connectRedis(redis)
  })
  after(async () => {
    redis?.disconnect()
    await s?.close()
  })

  it('scraping needs a key with a scope on every stream; health stays open', async () => {
    const keys = new ApiKeys(redis)
    const all = (await keys.create('prometheus', ['read:*'])).token
    const some = (await keys.create('orders', ['read:orders'])).token
    assert.equal((await s.request('GET', '/metrics')).status, 401)
    assert.equal((await s.request('GET', '/metrics', undefined, { authorization: `Bearer ${some}` })).status, 403)
    const ok = await s.request('GET', '/metrics', undefined, { authorization: `Bearer ${all}` })
    assert.equal(ok.status, 200)
    assert.match(ok.text, /sluice_http_request_duration_seconds/)
    assert.equal((await s.request('GET', '/livez')).status, 200)
    assert.equal((await s.request('GET', '/readyz')).status, 200)
  })
})

describe('access control at start-up', () => {
  let redis: Awaited<ReturnType<typeof import('@sluice/testkit').startRedis>>
  let dataDir: string
  before(async () => {
    redis = await (await import('@sluice/testkit')).startRedis()
    dataDir = mkdtempSync(join(tmpdir(), 'sluice-auth-'))
  })
  after(async () => {
    await redis?.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('off loopback with no key it refuses to start and says how to make one; SLUICE_AUTH=off starts it', async () => {
    const env = { SLUICE_REDIS_URL: redis.url, SLUICE_HOST: '0.0.0.0', SLUICE_DATA_DIR: dataDir, SLUICE_LOG_LEVEL: 'warn' }
    const refused = await startProcess({ command: process.execPath, args: [serverJs], env: { ...env, SLUICE_PORT: String(await freePort()) } })
    const status = await refused.exited
    assert.equal(status.code, 1, refused.output())
    assert.match(refused.output(), /credentials are required .* create a key with `npm run keys -- create/)
    const port = await freePort()
    const open = await startProcess({
      command: process.execPath,
      args: [serverJs],
      env: { ...env, SLUICE_PORT: String(port), SLUICE_AUTH: 'off' },
      readyUrl: `http://127.0.0.1:${port}/readyz`,
    })
    try {
      assert.match(open.output(), /access control is off/)
    } finally {
      await open.kill('SIGTERM')
    }
  })
})
