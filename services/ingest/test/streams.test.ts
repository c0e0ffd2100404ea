import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { startSluice, type Sluice } from './harness.js'

/** Sends raw bytes on a new connection; resolves with everything the server wrote before closing. */
function rawExchange(url: string, bytes: string): Promise<string> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname)
    let answer = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => (answer += chunk))
    socket.on('error', reject)
    socket.on('close', () => resolve(answer))
    socket.write(bytes)
  })
}

function errorOf(answer: string): { status: number; body: { error: { code: string; message: string; field?: string } } } {
  const [head, body] = answer.split('\r\n\r\n')
  return { status: Number(head!.split(' ')[1]), body: JSON.parse(body!) }
}

describe('streams (control plane)', () => {
  let s: Sluice
  before(async () => {
    s = await startSluice({ env: { SLUICE_MAX_SHARDS: '50' } })
  })
  after(async () => s.close())

  it('creates a stream with Kinesis shard ids and evenly split hash ranges', async () => {
    const r = await s.request('POST', '/v1/streams', { name: 'orders', shardCount: 3 })
    assert.equal(r.status, 201, r.text)
    assert.equal(r.body.name, 'orders')
    assert.equal(r.body.status, 'ACTIVE')
    assert.equal(r.body.retentionHours, 24)
    assert.deepEqual(r.body.writeLimits, { recordsPerSecond: 1000, bytesPerSecond: 1048576 })
    assert.deepEqual(
      r.body.shards.map((x: any) => [x.shardId, x.hashKeyRange.start, x.hashKeyRange.end]),
      [
        ['shardId-000000000000', '0', '113427455640312821154458202477256070484'],
        ['shardId-000000000001', '113427455640312821154458202477256070485', '226854911280625642308916404954512140969'],
        ['shardId-000000000002', '226854911280625642308916404954512140970', '340282366920938463463374607431768211455'],
      ],
    )
    for (const shard of r.body.shards) assert.match(shard.sequenceNumberRange.start, /^1\d{41}$/)
    assert.ok(Math.abs(r.body.createdAt - Date.now()) < 60_000)
    const d = await s.request('GET', '/v1/streams/orders')
    assert.equal(d.status, 200)
    assert.deepEqual(d.body, r.body)
  })

  it('answers 409 for an existing name and keeps the first stream as it was', async () => {
    await s.request('POST', '/v1/streams', { name: 'dup', shardCount: 2 })
    const again = await s.request('POST', '/v1/streams', { name: 'dup', shardCount: 5 })
    assert.equal(again.status, 409)
    assert.equal(again.body.error.code, 'StreamExists')
    assert.equal((await s.request('GET', '/v1/streams/dup')).body.shardCount, 2)
  })

  it('takes per-stream write limits and retention', async () => {
    const r = await s.request('POST', '/v1/streams', { name: 'tuned', shardCount: 1, retentionHours: 168, writeLimits: { recordsPerSecond: 50 } })
    assert.equal(r.status, 201, r.text)
    assert.equal(r.body.retentionHours, 168)
    assert.deepEqual(r.body.writeLimits, { recordsPerSecond: 50, bytesPerSecond: 1048576 })
  })

  it('changes a stream\'s retention', async () => {
    const r = await s.request('PATCH', '/v1/streams/tuned', { retentionHours: 48 })
    assert.equal(r.status, 200, r.text)
    assert.equal(r.body.retentionHours, 48)
    assert.equal((await s.request('GET', '/v1/streams/tuned')).body.retentionHours, 48)
    const bad = await s.request('PATCH', '/v1/streams/tuned', { retentionHours: 10 })
    assert.equal(bad.status, 400)
    assert.equal(bad.body.error.field, 'retentionHours')
    assert.equal((await s.request('PATCH', '/v1/streams/nope', { retentionHours: 48 })).status, 404)
  })

  it('refuses shard counts above SLUICE_MAX_SHARDS, naming the field', async () => {
    const r = await s.request('POST', '/v1/streams', { name: 'big', shardCount: 51 })
    assert.equal(r.status, 400)
    assert.equal(r.body.error.field, 'shardCount')
    assert.match(r.body.error.message, /at most 50/)
    assert.equal((await s.request('GET', '/v1/streams/big')).status, 404)
  })

  it('lists streams in name order, page by page', async () => {
    for (const n of ['p-a', 'p-b', 'p-c', 'p-d', 'p-e']) await s.request('POST', '/v1/streams', { name: n, shardCount: 1 })
    const seen: string[] = []
    let next: string | undefined
    let pages = 0
    do {
      const r = await s.request('GET', `/v1/streams?limit=2${next ? `&next=${encodeURIComponent(next)}` : ''}`)
      assert.equal(r.status, 200, r.text)
      assert.ok(r.body.streams.length <= 2)
      seen.push(...r.body.streams.map((x: any) => x.name))
      next = r.body.next
      pages++
    } while (next && pages < 20)
    assert.deepEqual(seen, [...seen].sort())
    for (const n of ['p-a', 'p-b', 'p-c', 'p-d', 'p-e', 'orders']) assert.ok(seen.includes(n), n)
    assert.equal(new Set(seen).size, seen.length)
  })

  it('deletes a stream: the name is free at once and its records are gone', async () => {
    await s.request('POST', '/v1/streams', { name: 'gone', shardCount: 2 })
    const put = await s.request('POST', '/v1/streams/gone/records', { records: [{ partitionKey: 'k', data: 'AAAA' }] })
    assert.equal(put.status, 200)
    const shardId = put.body.records[0].shardId
    const it0 = await s.request('GET', `/v1/streams/gone/shards/${shardId}/records?from=TRIM_HORIZON`)
    assert.equal(it0.body.records.length, 1)

    assert.equal((await s.request('DELETE', '/v1/streams/gone')).status, 204)
    assert.equal((await s.request('GET', '/v1/streams/gone')).status, 404)
    assert.equal((await s.request('DELETE', '/v1/streams/gone')).status, 404)

    const again = await s.request('POST', '/v1/streams', { name: 'gone', shardCount: 2 })
    assert.equal(again.status, 201)
    const fresh = await s.request('GET', `/v1/streams/gone/shards/${shardId}/records?from=TRIM_HORIZON`)
    assert.equal(fresh.status, 200)
    assert.deepEqual(fresh.body.records, [], 'a re-created stream starts empty')
    const old = await s.request('GET', `/v1/streams/gone/shards/${shardId}/records?iterator=${encodeURIComponent(it0.body.nextIterator)}`)
    assert.equal(old.status, 400, 'an iterator of the deleted stream must not read the new one')
    assert.equal(old.body.error.code, 'ExpiredIterator')
  })

  it('keeps idle keep-alive connections open longer than Node\'s 5 s default, as clients expect', async () => {
    const r = await s.request('GET', '/livez')
    assert.equal(r.headers.get('keep-alive'), 'timeout=72')
  })

  it('answers what the HTTP parser refuses in the error shape too, then closes the connection', async () => {
    const malformed = errorOf(await rawExchange(s.url, 'GET /livez HTTP/1.1\r\nHost: sluice\r\nthis is not a header\r\n\r\n'))
    assert.equal(malformed.status, 400)
    assert.equal(malformed.body.error.code, 'ValidationError')
    assert.equal(malformed.body.error.field, 'request')
    const huge = errorOf(await rawExchange(s.url, `GET /livez HTTP/1.1\r\nHost: sluice\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`))
    assert.equal(huge.status, 431)
    assert.equal(huge.body.error.code, 'HeadersTooLarge')
  })

  it('answers 404 in the error shape for unknown streams and routes', async () => {
    const r = await s.request('GET', '/v1/streams/nope')
    assert.equal(r.status, 404)
    assert.equal(r.body.error.code, 'StreamNotFound')
    const route = await s.request('GET', '/v2/whatever')
    assert.equal(route.status, 404)
    assert.equal(route.body.error.code, 'NotFound')
  })
})
