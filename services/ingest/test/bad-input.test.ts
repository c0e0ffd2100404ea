import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readAll, startSluice, type Sluice } from './harness.js'

interface Case {
  name: string
  method: string
  path: string
  body?: unknown
  raw?: { text: string | Uint8Array; contentType: string }
  status: number
  code: string
  field?: string
}

const MiB = 1024 * 1024
const rec = (over: Record<string, unknown> = {}) => ({ partitionKey: 'k', data: 'AAAA', ...over })
const put = '/v1/streams/target/records'
const read = '/v1/streams/target/shards/shardId-000000000000/records'

const cases: Case[] = [
  { name: 'create: empty body object', method: 'POST', path: '/v1/streams', body: {}, status: 400, code: 'ValidationError', field: 'name' },
  { name: 'create: name with a brace', method: 'POST', path: '/v1/streams', body: { name: 'a{b}', shardCount: 1 }, status: 400, code: 'ValidationError', field: 'name' },
  { name: 'create: name with a colon', method: 'POST', path: '/v1/streams', body: { name: 'a:b', shardCount: 1 }, status: 400, code: 'ValidationError', field: 'name' },
  { name: 'create: 129-character name', method: 'POST', path: '/v1/streams', body: { name: 'n'.repeat(129), shardCount: 1 }, status: 400, code: 'ValidationError', field: 'name' },
  { name: 'create: shardCount 0', method: 'POST', path: '/v1/streams', body: { name: 'x1', shardCount: 0 }, status: 400, code: 'ValidationError', field: 'shardCount' },
  { name: 'create: shardCount as a string', method: 'POST', path: '/v1/streams', body: { name: 'x2', shardCount: '2' }, status: 400, code: 'ValidationError', field: 'shardCount' },
  { name: 'create: fractional shardCount', method: 'POST', path: '/v1/streams', body: { name: 'x3', shardCount: 1.5 }, status: 400, code: 'ValidationError', field: 'shardCount' },
  { name: 'create: retention below 24 h', method: 'POST', path: '/v1/streams', body: { name: 'x4', shardCount: 1, retentionHours: 23 }, status: 400, code: 'ValidationError', field: 'retentionHours' },
  { name: 'create: retention above 8760 h', method: 'POST', path: '/v1/streams', body: { name: 'x5', shardCount: 1, retentionHours: 8761 }, status: 400, code: 'ValidationError', field: 'retentionHours' },
  { name: 'create: unknown member', method: 'POST', path: '/v1/streams', body: { name: 'x6', shardCount: 1, shards: 2 }, status: 400, code: 'ValidationError', field: 'shards' },
  { name: 'create: zero write limit', method: 'POST', path: '/v1/streams', body: { name: 'x7', shardCount: 1, writeLimits: { recordsPerSecond: 0 } }, status: 400, code: 'ValidationError', field: 'writeLimits.recordsPerSecond' },
  { name: 'create: not JSON', method: 'POST', path: '/v1/streams', raw: { text: '{"name": ', contentType: 'application/json' }, status: 400, code: 'ValidationError', field: 'body' },
  { name: 'create: text/plain', method: 'POST', path: '/v1/streams', raw: { text: 'name=x', contentType: 'text/plain' }, status: 415, code: 'UnsupportedMediaType' },
  { name: 'create: a JSON array', method: 'POST', path: '/v1/streams', body: [], status: 400, code: 'ValidationError' },
  { name: 'create: __proto__ member', method: 'POST', path: '/v1/streams', raw: { text: '{"name":"x8","shardCount":1,"__proto__":{"admin":true}}', contentType: 'application/json' }, status: 400, code: 'ValidationError' },
  { name: 'put: no records member', method: 'POST', path: put, body: {}, status: 400, code: 'ValidationError', field: 'records' },
  { name: 'put: empty records', method: 'POST', path: put, body: { records: [] }, status: 400, code: 'ValidationError', field: 'records' },
  { name: 'put: 501 records', method: 'POST', path: put, body: { records: Array.from({ length: 501 }, () => rec()) }, status: 400, code: 'ValidationError', field: 'records' },
  { name: 'put: empty partition key', method: 'POST', path: put, body: { records: [rec({ partitionKey: '' })] }, status: 400, code: 'ValidationError', field: 'records[0].partitionKey' },
  { name: 'put: 257-character partition key', method: 'POST', path: put, body: { records: [rec({ partitionKey: 'k'.repeat(257) })] }, status: 400, code: 'ValidationError', field: 'records[0].partitionKey' },
  { name: 'put: data not base64', method: 'POST', path: put, body: { records: [rec({ data: '@@@@' })] }, status: 400, code: 'ValidationError', field: 'records[0].data' },
  { name: 'put: unpadded base64', method: 'POST', path: put, body: { records: [rec({ data: 'AAA' })] }, status: 400, code: 'ValidationError', field: 'records[0].data' },
  { name: 'put: data as a number', method: 'POST', path: put, body: { records: [rec({ data: 5 })] }, status: 400, code: 'ValidationError', field: 'records[0].data' },
  { name: 'put: data over 1 MiB', method: 'POST', path: put, body: { records: [rec({ data: Buffer.alloc(MiB + 1).toString('base64') })] }, status: 400, code: 'ValidationError', field: 'records[0].data' },
  {
    name: 'put: over 5 MiB in one request',
    method: 'POST',
    path: put,
    body: { records: [...Array.from({ length: 5 }, () => rec({ data: Buffer.alloc(MiB).toString('base64') })), rec()] },
    status: 400,
    code: 'ValidationError',
    field: 'records',
  },
  { name: 'put: explicit hash key 2^128', method: 'POST', path: put, body: { records: [rec({ explicitHashKey: (2n ** 128n).toString() })] }, status: 400, code: 'ValidationError', field: 'records[0].explicitHashKey' },
  { name: 'put: negative explicit hash key', method: 'POST', path: put, body: { records: [rec({ explicitHashKey: '-1' })] }, status: 400, code: 'ValidationError', field: 'records[0].explicitHashKey' },
  { name: 'put: unknown record member', method: 'POST', path: put, body: { records: [rec({ sequenceNumberForOrdering: '1' })] }, status: 400, code: 'ValidationError', field: 'records[0].sequenceNumberForOrdering' },
  { name: 'put: one bad record among good ones', method: 'POST', path: put, body: { records: [rec(), rec(), rec({ data: '!' })] }, status: 400, code: 'ValidationError', field: 'records[2].data' },
  { name: 'put: body over 8 MiB', method: 'POST', path: put, raw: { text: JSON.stringify({ records: [rec({ data: 'A'.repeat(9 * MiB) })] }), contentType: 'application/json' }, status: 413, code: 'PayloadTooLarge' },
  { name: 'put: unknown stream', method: 'POST', path: '/v1/streams/nope/records', body: { records: [rec()] }, status: 404, code: 'StreamNotFound' },
  { name: 'put: bad stream name', method: 'POST', path: '/v1/streams/a%7Bb/records', body: { records: [rec()] }, status: 400, code: 'ValidationError', field: 'name' },
  { name: 'put shard: malformed shard id', method: 'POST', path: '/v1/streams/target/shards/shard-1/records', body: { records: [rec()] }, status: 400, code: 'ValidationError', field: 'shardId' },
  { name: 'put shard: unknown shard', method: 'POST', path: '/v1/streams/target/shards/shardId-000000000009/records', body: { records: [rec()] }, status: 404, code: 'ShardNotFound' },
  { name: 'read: no position', method: 'GET', path: read, status: 400, code: 'ValidationError', field: 'from' },
  { name: 'read: unknown position', method: 'GET', path: `${read}?from=BEGINNING`, status: 400, code: 'ValidationError', field: 'from' },
  { name: 'read: AT_SEQUENCE_NUMBER without a number', method: 'GET', path: `${read}?from=AT_SEQUENCE_NUMBER`, status: 400, code: 'ValidationError', field: 'sequenceNumber' },
  { name: 'read: garbage sequence number', method: 'GET', path: `${read}?from=AT_SEQUENCE_NUMBER&sequenceNumber=12abc`, status: 400, code: 'ValidationError', field: 'sequenceNumber' },
  { name: "read: another shard's sequence number", method: 'GET', path: `${read}?from=AT_SEQUENCE_NUMBER&sequenceNumber=1${'0'.repeat(35)}000001`, status: 400, code: 'ValidationError', field: 'sequenceNumber' },
  { name: 'read: limit 0', method: 'GET', path: `${read}?from=LATEST&limit=0`, status: 400, code: 'ValidationError', field: 'limit' },
  { name: 'read: limit 10001', method: 'GET', path: `${read}?from=LATEST&limit=10001`, status: 400, code: 'ValidationError', field: 'limit' },
  { name: 'read: limit not a number', method: 'GET', path: `${read}?from=LATEST&limit=ten`, status: 400, code: 'ValidationError', field: 'limit' },
  { name: 'read: garbage iterator', method: 'GET', path: `${read}?iterator=abc`, status: 400, code: 'InvalidIterator', field: 'iterator' },
  { name: 'read: iterator and from', method: 'GET', path: `${read}?iterator=abc&from=LATEST`, status: 400, code: 'ValidationError', field: 'iterator' },
  { name: 'read: unparseable timestamp', method: 'GET', path: `${read}?from=AT_TIMESTAMP&timestamp=yesterday`, status: 400, code: 'ValidationError', field: 'timestamp' },
  { name: 'read: timestamp without AT_TIMESTAMP', method: 'GET', path: `${read}?from=LATEST&timestamp=5`, status: 400, code: 'ValidationError', field: 'timestamp' },
  { name: 'read: unknown query member', method: 'GET', path: `${read}?from=LATEST&shard=1`, status: 400, code: 'ValidationError', field: 'shard' },
  { name: 'read: unknown shard', method: 'GET', path: '/v1/streams/target/shards/shardId-000000000002/records?from=LATEST', status: 404, code: 'ShardNotFound' },
  { name: 'read: unknown stream', method: 'GET', path: '/v1/streams/nope/shards/shardId-000000000000/records?from=LATEST', status: 404, code: 'StreamNotFound' },
  { name: 'list: limit 0', method: 'GET', path: '/v1/streams?limit=0', status: 400, code: 'ValidationError', field: 'limit' },
  { name: 'list: forged next token', method: 'GET', path: '/v1/streams?next=e30', status: 400, code: 'ValidationError', field: 'next' },
  { name: 'describe: bad name', method: 'GET', path: `/v1/streams/${'n'.repeat(129)}`, status: 400, code: 'ValidationError', field: 'name' },
  { name: 'delete: unknown stream', method: 'DELETE', path: '/v1/streams/nope', status: 404, code: 'StreamNotFound' },
]

describe('bad input: a clear 4xx, and nothing written', () => {
  let s: Sluice
  before(async () => {
    s = await startSluice({ env: { SLUICE_SHARD_READS_PER_SECOND: '10000' } })
    assert.equal((await s.request('POST', '/v1/streams', { name: 'target', shardCount: 2 })).status, 201)
  })
  after(async () => s.close())

  for (const c of cases) {
    it(`${c.name} → ${c.status} ${c.code}${c.field ? ` (${c.field})` : ''}`, async () => {
      const r = c.raw
        ? await s.request(c.method, c.path, c.raw.text, { 'content-type': c.raw.contentType })
        : await s.request(c.method, c.path, c.body)
      assert.equal(r.status, c.status, r.text.slice(0, 300))
      assert.equal(r.body?.error?.code, c.code, r.text.slice(0, 300))
      assert.ok(typeof r.body.error.message === 'string' && r.body.error.message.length > 5)
      if (c.field) {
        const fields = [r.body.error.field, ...(r.body.error.details ?? []).map((d: any) => d.field)]
        assert.ok(fields.includes(c.field), `expected field ${c.field} in ${JSON.stringify(r.body.error)}`)
      }
    })
  }

  it('reports every problem of a request, not just the first', async () => {
    const r = await s.request('POST', put, { records: [rec({ partitionKey: '' }), rec({ data: '!' }), rec({ extra: 1 })] })
    assert.equal(r.status, 400)
    const fields = r.body.error.details.map((d: any) => d.field)
    for (const f of ['records[0].partitionKey', 'records[1].data', 'records[2].extra']) assert.ok(fields.includes(f), `${f} in ${fields}`)
  })

  it('names the allowed values of an enum', async () => {
    const r = await s.request('GET', `${read}?from=BEGINNING`)
    assert.match(r.body.error.message, /from: must be one of TRIM_HORIZON, LATEST, AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER, AT_TIMESTAMP/)
  })

  it('left no record and no stream behind', async () => {
    assert.equal((await readAll(s, 'target', 'shardId-000000000000')).length, 0)
    assert.equal((await readAll(s, 'target', 'shardId-000000000001')).length, 0)
    const list = await s.request('GET', '/v1/streams')
    assert.deepEqual(list.body.streams.map((x: any) => x.name), ['target'])
  })
})
