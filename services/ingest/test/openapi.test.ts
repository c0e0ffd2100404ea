/**
 * openapi.yaml against the server: the same operations, every answer the server gives has a status
 * the document lists and a body that validates against the documented schema, and the documented
 * request schemas accept and refuse what the server accepts and refuses.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { Ajv2020 } from 'ajv/dist/2020.js'
import addFormatsModule from 'ajv-formats'
import { parse } from 'yaml'
import { API_ERRORS } from '@sluice/protocol'
import { b64, startSluice, type HttpAnswer, type Sluice } from './harness.js'

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020
const doc = parse(readFileSync(new URL('../../../../openapi.yaml', import.meta.url), 'utf8'))
const ajv = new Ajv2020({ strict: false, allErrors: true })
addFormats(ajv)
ajv.addSchema({ ...doc, $id: 'openapi' })
const HTTP_METHODS = ['get', 'post', 'put', 'delete', 'patch']

/** `/v1/streams/{name}` → `/v1/streams/:name` */
const toFastify = (p: string) => p.replace(/\{(\w+)\}/g, ':$1')

function resolve(obj: any): any {
  if (obj && typeof obj.$ref === 'string' && obj.$ref.startsWith('#/')) {
    return resolve(obj.$ref.slice(2).split('/').reduce((o: any, k: string) => o[k], doc))
  }
  return obj
}

function documented(): Array<{ method: string; path: string }> {
  const ops = []
  for (const [path, item] of Object.entries<any>(doc.paths)) {
    for (const m of HTTP_METHODS) if (item[m]) ops.push({ method: m.toUpperCase(), path: toFastify(path) })
  }
  return ops
}

/** Parses fastify's printRoutes tree into "METHOD /path" lines (HEAD, which fastify adds for GET, left out). */
function registered(tree: string): Array<{ method: string; path: string }> {
  const out = []
  const stack: string[] = []
  for (const line of tree.split('\n')) {
    const m = /^([│ ]*)[├└]── (\S+) \(([^)]+)\)$/.exec(line.replace(/\u00a0/g, ' '))
    if (!m) continue
    const depth = m[1]!.length / 4
    stack.length = depth
    stack.push(m[2]!)
    for (const method of m[3]!.split(', ')) if (method !== 'HEAD') out.push({ method, path: stack.join('') })
  }
  return out
}

function opFor(method: string, path: string): any {
  for (const [p, item] of Object.entries<any>(doc.paths)) {
    const re = new RegExp('^' + p.replace(/\{\w+\}/g, '[^/]+') + '$')
    if (re.test(path.split('?')[0]!)) return item[method.toLowerCase()]
  }
  return undefined
}

const checked = new Set<string>()

/** Asserts the answer is documented for the operation: status, headers, body schema. */
function conforms(method: string, path: string, r: HttpAnswer): void {
  const op = opFor(method, path)
  assert.ok(op, `${method} ${path} is not documented`)
  const response = resolve(op.responses[String(r.status)])
  assert.ok(response, `${method} ${path} answered ${r.status}, which openapi.yaml does not list (${Object.keys(op.responses)})`)
  for (const [name, h] of Object.entries<any>(response.headers ?? {})) {
    if (resolve(h).required) assert.ok(r.headers.get(name), `${name} header missing on ${r.status} of ${method} ${path}`)
  }
  const schema = response.content?.['application/json']?.schema
  if (response.content?.['text/plain']) {
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain/)
  } else if (schema) {
    const validate = ajv.compile({ $ref: `openapi${schema.$ref ?? ''}` })
    assert.ok(validate(r.body), `${method} ${path} ${r.status}: ${ajv.errorsText(validate.errors)} in ${r.text.slice(0, 300)}`)
  } else {
    assert.equal(r.text, '', `${method} ${path} ${r.status} should have no body`)
  }
  checked.add(`${method} ${op.operationId} ${r.status}`)
}

describe('openapi.yaml', () => {
  let s: Sluice
  before(async () => {
    s = await startSluice({ env: { SLUICE_SHARD_READS_PER_SECOND: '1000' } })
  })
  after(async () => s.close())

  it('documents exactly the routes the server has', async () => {
    const server = registered(s.app.printRoutes({ commonPrefix: false }))
    const key = (o: { method: string; path: string }) => `${o.method} ${o.path}`
    assert.ok(server.length >= 9, `parsed ${server.length} routes from printRoutes`)
    assert.deepEqual(documented().map(key).sort(), server.map(key).sort())
  })

  it('lists every error code of the protocol table', () => {
    assert.deepEqual([...doc.components.schemas.Error.properties.error.properties.code.enum].sort(), Object.keys(API_ERRORS).sort())
  })

  it('describes every answer the server gives, with its body', async () => {
    const req = async (method: string, path: string, body?: unknown, headers?: Record<string, string>) => {
      const r = await s.request(method, path, body, headers)
      conforms(method, path, r)
      return r
    }
    await req('GET', '/livez')
    await req('GET', '/readyz')
    await req('GET', '/metrics')
    await req('POST', '/v1/streams', { name: 'oa', shardCount: 2, retentionHours: 48, writeLimits: { recordsPerSecond: 5000 } })
    await req('POST', '/v1/streams', { name: 'oa', shardCount: 2 })
    await req('POST', '/v1/streams', { name: 'bad name', shardCount: 0 })
    await req('POST', '/v1/streams', 'name=x', { 'content-type': 'text/plain' })
    await req('POST', '/v1/streams', JSON.stringify({ name: 'x'.repeat(70_000), shardCount: 1 }), { 'content-type': 'application/json' })
    await req('POST', '/v1/streams', { name: 'oa-slow', shardCount: 1, writeLimits: { recordsPerSecond: 1 } })
    await req('GET', '/v1/streams?limit=1')
    const page = await req('GET', '/v1/streams?limit=1')
    await req('GET', `/v1/streams?limit=1&next=${encodeURIComponent(page.body.next)}`)
    await req('GET', '/v1/streams?limit=0')
    await req('GET', '/v1/streams/oa')
    await req('PATCH', '/v1/streams/oa', { retentionHours: 72 })
    await req('PATCH', '/v1/streams/oa', { retentionHours: 2 })
    await req('PATCH', '/v1/streams/missing', { retentionHours: 48 })
    await req('GET', '/v1/streams/missing')
    await req('GET', '/v1/streams/a%7Bb')
    const put = await req('POST', '/v1/streams/oa/records', { records: [{ partitionKey: 'a', data: b64('one') }, { partitionKey: 'b', data: b64('two'), explicitHashKey: '0' }] })
    await req('POST', '/v1/streams/oa/records', { records: [{ partitionKey: '', data: '!' }] })
    await req('POST', '/v1/streams/missing/records', { records: [{ partitionKey: 'a', data: 'AA==' }] })
    await req('POST', '/v1/streams/oa/records', JSON.stringify({ records: [{ partitionKey: 'a', data: 'A'.repeat(9 * 1024 * 1024) }] }), { 'content-type': 'application/json' })
    await req('POST', '/v1/streams/oa-slow/records', { records: [{ partitionKey: 'a', data: 'AA==' }, { partitionKey: 'a', data: 'AA==' }] })
    await req('POST', '/v1/streams/oa-slow/records', { records: [{ partitionKey: 'a', data: 'AA==' }] })
    await req('POST', '/v1/streams/oa/shards/shardId-000000000000/records', { records: [{ partitionKey: 'x', data: 'AA==', explicitHashKey: '1' }] })
    await req('POST', '/v1/streams/oa/shards/shardId-000000000000/records', { records: [{ partitionKey: 'x', data: 'AA==', explicitHashKey: (2n ** 127n).toString() }] })
    await req('POST', '/v1/streams/oa/shards/shardId-000000000005/records', { records: [{ partitionKey: 'x', data: 'AA==' }] })
    const shard = put.body.records[0].shardId
    const first = await req('GET', `/v1/streams/oa/shards/${shard}/records?from=TRIM_HORIZON&limit=1`)
    await req('GET', `/v1/streams/oa/shards/${shard}/records?iterator=${encodeURIComponent(first.body.nextIterator)}`)
    await req('GET', `/v1/streams/oa/shards/${shard}/records?from=AT_SEQUENCE_NUMBER&sequenceNumber=${put.body.records[0].sequenceNumber}`)
    await req('GET', `/v1/streams/oa/shards/${shard}/records?from=AT_TIMESTAMP&timestamp=2026-01-01T00:00:00Z`)
    await req('GET', `/v1/streams/oa/shards/${shard}/records?iterator=forged`)
    await req('GET', `/v1/streams/oa/shards/shardId-000000000009/records?from=LATEST`)
    const hb = await req('POST', '/v1/streams/oa/groups/g/workers/w1/heartbeat', { leaseTtlMs: 5000 })
    await req('POST', '/v1/streams/oa/groups/g/workers/w1/heartbeat', { leaseTtlMs: 5 })
    await req('GET', '/v1/streams/oa/groups')
    await req('GET', '/v1/streams/oa/groups/g')
    await req('GET', '/v1/streams/oa/groups/nope')
    const owned = hb.body.shards.find((x: any) => x.shardId === shard)
    await req('PUT', `/v1/streams/oa/groups/g/shards/${shard}/checkpoint`, { sequenceNumber: put.body.records[0].sequenceNumber, leaseToken: owned.leaseToken })
    await req('PUT', `/v1/streams/oa/groups/g/shards/${shard}/checkpoint`, { sequenceNumber: put.body.records[0].sequenceNumber, leaseToken: '999' })
    await req('DELETE', '/v1/streams/oa/groups/g/workers/w1')
    await req('DELETE', '/v1/streams/oa')
    await req('DELETE', '/v1/streams/oa')
    for (const must of ['createStream 201', 'createStream 409', 'createStream 400', 'createStream 415', 'createStream 413', 'putRecords 200', 'putRecords 429', 'putShardRecords 400', 'getRecords 200', 'deleteStream 204', 'heartbeat 200', 'checkpoint 200', 'checkpoint 409', 'describeGroup 200', 'leaveGroup 204']) {
      assert.ok([...checked].some((c) => c.endsWith(must)), `no answer exercised ${must}`)
    }
  })

  it("documents the read limit's 429", async () => {
    const strict = await startSluice()
    try {
      await strict.request('POST', '/v1/streams', { name: 'r', shardCount: 1 })
      let r: HttpAnswer | undefined
      for (let i = 0; i < 20 && r?.status !== 429; i++) r = await strict.request('GET', '/v1/streams/r/shards/shardId-000000000000/records?from=LATEST')
      assert.equal(r?.status, 429)
      conforms('GET', '/v1/streams/r/shards/shardId-000000000000/records', r!)
    } finally {
      await strict.close()
    }
  })

  it('has request schemas as strict as the server', async () => {
    const validate = ajv.compile({ $ref: 'openapi#/components/schemas/PutRecordsRequest' })
    const bodies = [
      { records: [{ partitionKey: 'k', data: 'AAAA' }] },
      { records: [{ partitionKey: 'k', data: '' , explicitHashKey: '340282366920938463463374607431768211455' }] },
      { records: [] },
      { records: [{ partitionKey: 'k', data: 'AAA' }] },
      { records: [{ partitionKey: 'k', data: 'AA==', extra: 1 }] },
      { records: [{ partitionKey: 'k'.repeat(257), data: 'AA==' }] },
      { records: [{ partitionKey: 'k', data: 'AA==', explicitHashKey: '01' }] },
      { records: [{ partitionKey: 'k', data: 5 }] },
      { records: [{ data: 'AA==' }] },
      { record: [] },
    ]
    await s.request('POST', '/v1/streams', { name: 'strict', shardCount: 1 })
    for (const body of bodies) {
      const server = await s.request('POST', '/v1/streams/strict/records', body)
      assert.equal(validate(body), server.status === 200, `${JSON.stringify(body).slice(0, 120)}: document says ${validate(body)}, server answered ${server.status}`)
    }
    const create = ajv.compile({ $ref: 'openapi#/components/schemas/CreateStreamRequest' })
    for (const body of [{ name: 'ok-1', shardCount: 1 }, { name: 'ok-2', shardCount: '1' }, { name: 'a/b', shardCount: 1 }, { name: 'ok-3', shardCount: 1, retentionHours: 10 }, { name: 'ok-4', shardCount: 1, x: 1 }]) {
      const server = await s.request('POST', '/v1/streams', body)
      assert.equal(create(body), server.status === 201, `${JSON.stringify(body)}: document says ${create(body)}, server answered ${server.status}`)
    }
  })
})
