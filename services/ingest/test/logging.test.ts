import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { b64, startSluice, type Sluice } from './harness.js'

describe('logs', () => {
  let s: Sluice
  const lines: string[] = []
  before(async () => {
    const logStream = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        lines.push(...chunk.toString().split('\n').filter(Boolean))
        callback()
      },
    })
    s = await startSluice({ env: { SLUICE_LOG_LEVEL: 'debug' }, logStream })
  })
  after(async () => s.close())

  it('writes one JSON line per request with its request id, echoes the id, and never logs secrets or record data', async () => {
    await s.request('POST', '/v1/streams', { name: 'logs', shardCount: 1 })
    const secretData = b64('card 4111-1111-1111-1111')
    const r = await s.request('POST', '/v1/streams/logs/records', { records: [{ partitionKey: 'user-42', data: secretData }] }, {
      'x-request-id': 'trace-abc-123',
      authorization: 'Bearer super-secret-token',
    })
    assert.equal(r.status, 200)
    assert.equal(r.headers.get('x-request-id'), 'trace-abc-123', 'the id is echoed back')
    const generated = await s.request('GET', '/livez')
    assert.ok(generated.headers.get('x-request-id'), 'a request without an id gets one')

    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>)
    const mine = parsed.filter((l) => l.reqId === 'trace-abc-123')
    assert.equal(mine.length, 1, `one line for the request: ${JSON.stringify(mine)}`)
    assert.equal(mine[0]!.statusCode, 200)
    assert.equal(mine[0]!.route, '/v1/streams/:name/records')
    assert.equal(mine[0]!.level, 20)
    const all = lines.join('\n')
    assert.doesNotMatch(all, /super-secret-token/)
    assert.ok(!all.includes(secretData), 'record data is not logged')
    assert.doesNotMatch(all, /user-42/, 'partition keys are not logged')
  })
})
