/**
 * Redis in trouble, seen from the outside: gone, frozen, or full. The service answers 503 with
 * Retry-After (never a 500, never a hang), recovers on its own, and never loses what it acknowledged.
 */
import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { freePort, startProcess, startRedis, waitFor } from '@sluice/testkit'
import { b64, readAll, startSluice } from './harness.js'

const serverJs = fileURLToPath(new URL('../src/server.js', import.meta.url))
const put = (n: number, tag: string) => ({ records: Array.from({ length: n }, (_, i) => ({ partitionKey: `${tag}-${i}`, data: b64(`${tag}-${i}`) })) })

describe('Redis faults', () => {
  const cleanup: Array<() => Promise<unknown>> = []
  after(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined)
  })

  it('answers 503 with Retry-After while Redis is down or frozen, and recovers when it is back', async () => {
    const redis = await startRedis()
    cleanup.push(() => redis.close())
    const s = await startSluice({ redis, env: { SLUICE_REDIS_COMMAND_TIMEOUT_MS: '500' } })
    cleanup.push(() => s.close())
    assert.equal((await s.request('POST', '/v1/streams', { name: 'f', shardCount: 2 })).status, 201)
    assert.equal((await s.request('POST', '/v1/streams/f/records', put(5, 'before'))).status, 200)

    redis.stop() // frozen: sockets open, no answers
    const t0 = Date.now()
    const frozen = await s.request('POST', '/v1/streams/f/records', put(5, 'frozen'))
    assert.equal(frozen.status, 503, frozen.text)
    assert.ok(Date.now() - t0 < 3000, 'answered within the command timeout, not hung')
    assert.equal(frozen.body.error.code, 'ServiceUnavailable')
    assert.equal(frozen.headers.get('retry-after'), '1')
    assert.equal((await s.request('GET', '/readyz')).status, 503)
    assert.equal((await s.request('GET', '/livez')).status, 200)
    redis.resume()
    await waitFor(async () => (await s.request('GET', '/readyz')).status === 200, { timeoutMs: 5000, message: 'ready after SIGCONT' })

    await redis.kill('SIGKILL')
    const down = await s.request('GET', '/v1/streams/f')
    assert.equal(down.status, 503, down.text)
    assert.ok(Number(down.headers.get('retry-after')) >= 1)
    const downPut = await s.request('POST', '/v1/streams/f/records', put(3, 'down'))
    assert.equal(downPut.status, 503)
    await redis.restart()
    const back = Date.now()
    await waitFor(async () => (await s.request('POST', '/v1/streams/f/records', put(5, 'after'))).status === 200, {
      timeoutMs: 5000,
      message: 'puts accepted again after Redis restarted',
    })
    assert.ok(Date.now() - back < 2000, `recovered in ${Date.now() - back} ms`)
    const all = [...(await readAll(s, 'f', 'shardId-000000000000')), ...(await readAll(s, 'f', 'shardId-000000000001'))]
    const keys = new Set(all.map((r) => r.partitionKey))
    for (let i = 0; i < 5; i++) assert.ok(keys.has(`before-${i}`), `acknowledged before-${i} kept`)
    for (let i = 0; i < 3; i++) assert.ok(!keys.has(`down-${i}`), 'a put refused with 503 while Redis was down is not there')
  })

  it('answers 503 when Redis is out of memory, keeps what it acknowledged, and still serves reads', async () => {
    const redis = await startRedis({ maxmemory: '3mb' })
    cleanup.push(() => redis.close())
    const s = await startSluice({ redis, env: { SLUICE_SHARD_READS_PER_SECOND: '1000' } })
    cleanup.push(() => s.close())
    assert.equal(
      (await s.request('POST', '/v1/streams', { name: 'full', shardCount: 1, writeLimits: { recordsPerSecond: 1_000_000, bytesPerSecond: 1_000_000_000 } })).status,
      201,
    )
    const big = Buffer.alloc(20_000, 7).toString('base64')
    let acknowledged = 0
    let status = 200
    for (let i = 0; i < 200 && status === 200; i++) {
      const r = await s.request('POST', '/v1/streams/full/records', { records: Array.from({ length: 5 }, (_, j) => ({ partitionKey: `k${i}-${j}`, data: big })) })
      status = r.status
      if (r.status === 200) acknowledged += r.body.records.filter((x: any) => x.sequenceNumber).length
      else {
        assert.equal(r.status, 503, r.text)
        assert.equal(r.body.error.code, 'ServiceUnavailable')
        assert.match(r.body.error.message, /out of memory/)
        assert.ok(r.headers.get('retry-after'))
      }
    }
    assert.equal(status, 503, 'Redis filled up')
    assert.ok(acknowledged > 0)
    const stored = await readAll(s, 'full', 'shardId-000000000000')
    assert.equal(stored.length, acknowledged, 'every acknowledged record is there, and no refused one')
  })

  /** Starts the service against `redis` and expects it to exit at start, saying `why`. */
  const refusesToStart = async (redis: { url: string; dir: string }, env: Record<string, string>, why: RegExp) => {
    const port = await freePort()
    await assert.rejects(
      startProcess({
        command: process.execPath,
        args: [serverJs],
        env: { SLUICE_REDIS_URL: redis.url, SLUICE_PORT: String(port), SLUICE_DATA_DIR: redis.dir, ...env },
        readyUrl: `http://127.0.0.1:${port}/readyz`,
      }),
      why,
    )
  }

  it('the service logs one line when Redis goes and one when it is back, not one per reconnection attempt', async () => {
    const redis = await startRedis()
    cleanup.push(() => redis.close())
    const port = await freePort()
    const ingest = await startProcess({
      command: process.execPath,
      args: [serverJs],
      env: { SLUICE_REDIS_URL: redis.url, SLUICE_PORT: String(port), SLUICE_DATA_DIR: redis.dir, SLUICE_LOG_LEVEL: 'info' },
      readyUrl: `http://127.0.0.1:${port}/readyz`,
    })
    cleanup.push(() => ingest.kill('SIGTERM'))
    await redis.kill('SIGKILL')
    // Long enough for a dozen reconnection attempts.
    await new Promise((resolve) => setTimeout(resolve, 1500))
    await redis.restart()
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200, { timeoutMs: 10_000, message: 'ready again' })
    await waitFor(() => /connected to Redis again/.test(ingest.output()), { timeoutMs: 5_000, message: 'a line saying Redis is back' })
    const out = ingest.output()
    assert.equal(out.match(/lost the connection to Redis/g)?.length, 1, out.slice(-2000))
    assert.doesNotMatch(out, /Unhandled error event/)
  })

  it('refuses to start against a Redis that may evict keys', async () => {
    const redis = await startRedis({ maxmemoryPolicy: 'allkeys-lru' })
    cleanup.push(() => redis.close())
    await refusesToStart(redis, {}, /maxmemory-policy allkeys-lru[\s\S]*noeviction/)
  })

  it('refuses to start when SLUICE_REDIS_FSYNC differs from what Redis runs with', async () => {
    const redis = await startRedis({ appendfsync: 'everysec' })
    cleanup.push(() => redis.close())
    await refusesToStart(redis, { SLUICE_REDIS_FSYNC: 'always' }, /SLUICE_REDIS_FSYNC=always but Redis runs with appendfsync everysec/)
  })
})
