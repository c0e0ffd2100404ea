/**
 * Real processes, killed for real: a restarted ingest process serves the same data (and accepts
 * iterators it issued before), and with appendfsync always every acknowledged record survives a
 * kill -9 of redis-server.
 */
import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, startRedis, waitFor, type RedisServer } from '@sluice/testkit'
import { b64, readAll, request, startIngestProcess, startSluice } from './harness.js'

function startIngest(redis: RedisServer, port: number, dataDir: string) {
  return startIngestProcess({ redisUrl: redis.url, port, dataDir, env: { SLUICE_SHARD_READS_PER_SECOND: '1000' } })
}

describe('durability', () => {
  const cleanup: Array<() => Promise<unknown>> = []
  after(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined)
  })

  it('a restarted ingest process serves the same records and honours iterators it issued before', async () => {
    const redis = await startRedis()
    cleanup.push(() => redis.close())
    const dataDir = mkdtempSync(join(tmpdir(), 'sluice-restart-'))
    cleanup.push(async () => rmSync(dataDir, { recursive: true, force: true }))
    const port = await freePort()
    const base = `http://127.0.0.1:${port}`
    const first = await startIngest(redis, port, dataDir)
    assert.equal((await request(base, 'POST', '/v1/streams', { name: 'r', shardCount: 2 })).status, 201)
    const put = await request(base, 'POST', '/v1/streams/r/records', {
      records: Array.from({ length: 200 }, (_, i) => ({ partitionKey: `k${i}`, data: b64(`v${i}`) })),
    })
    assert.equal(put.status, 200)
    assert.equal(put.body.failedRecordCount, 0)
    const page = await request(base, 'GET', '/v1/streams/r/shards/shardId-000000000000/records?from=TRIM_HORIZON&limit=10')
    assert.equal(page.body.records.length, 10)
    const before0 = await readAll({ request: (m, p, b) => request(base, m, p, b) }, 'r', 'shardId-000000000000')

    const code = await first.kill('SIGKILL')
    assert.notEqual(code, 0)
    const second = await startIngest(redis, port, dataDir)
    cleanup.push(() => second.kill('SIGKILL'))

    const after0 = await readAll({ request: (m, p, b) => request(base, m, p, b) }, 'r', 'shardId-000000000000')
    assert.deepEqual(after0, before0)
    const cont = await request(base, 'GET', `/v1/streams/r/shards/shardId-000000000000/records?iterator=${encodeURIComponent(page.body.nextIterator)}&limit=10`)
    assert.equal(cont.status, 200, cont.text)
    assert.deepEqual(cont.body.records, before0.slice(10, 20))
    const after1 = await readAll({ request: (m, p, b) => request(base, m, p, b) }, 'r', 'shardId-000000000001')
    assert.equal(after0.length + after1.length, 200)
  })

  it('with appendfsync always, kill -9 of redis-server loses no acknowledged record', async () => {
    const redis = await startRedis({ appendfsync: 'always' })
    cleanup.push(() => redis.close())
    const s = await startSluice({ redis, env: { SLUICE_SHARD_READS_PER_SECOND: '1000', SLUICE_REDIS_COMMAND_TIMEOUT_MS: '1000' } })
    cleanup.push(() => s.close())
    assert.equal(
      (await s.request('POST', '/v1/streams', { name: 'd', shardCount: 4, writeLimits: { recordsPerSecond: 1_000_000, bytesPerSecond: 1_000_000_000 } })).status,
      201,
    )

    const acknowledged = new Set<string>()
    let refused = 0
    let killed = false
    let n = 0
    const producer = async () => {
      for (;;) {
        const records = Array.from({ length: 50 }, () => {
          n++
          return { partitionKey: `k${n}`, data: b64(`record-${n}`) }
        })
        let r
        try {
          r = await s.request('POST', '/v1/streams/d/records', { records })
        } catch {
          refused++
          continue
        }
        if (r.status === 200) {
          r.body.records.forEach((x: any, i: number) => {
            if (x.sequenceNumber) acknowledged.add(`${x.sequenceNumber} ${records[i]!.data}`)
          })
        } else {
          assert.equal(r.status, 503, `only 200 or 503 while Redis dies, got ${r.status} ${r.text.slice(0, 200)}`)
          refused++
          if (killed) return
        }
        if (killed && acknowledged.size > 0 && refused > 0) return
      }
    }
    const producers = [producer(), producer(), producer()]
    await waitFor(() => acknowledged.size >= 3000, { timeoutMs: 30_000, message: '3000 records acknowledged before the kill' })
    killed = true
    await redis.kill('SIGKILL')
    await Promise.all(producers)
    const ackedBeforeRestart = acknowledged.size
    await redis.restart()
    await waitFor(async () => (await s.request('GET', '/readyz')).status === 200, { timeoutMs: 10_000, message: 'ingest ready again after Redis restart' })

    const present = new Set<string>()
    for (let i = 0; i < 4; i++) {
      for (const r of await readAll(s, 'd', `shardId-00000000000${i}`)) present.add(`${r.sequenceNumber} ${r.data}`)
    }
    const lost = [...acknowledged].filter((x) => !present.has(x))
    assert.equal(lost.length, 0, `${lost.length} of ${ackedBeforeRestart} acknowledged records lost, e.g. ${lost.slice(0, 3).join(', ')}`)
    // And the service takes writes again.
    assert.equal((await s.request('POST', '/v1/streams/d/records', { records: [{ partitionKey: 'after', data: 'AA==' }] })).status, 200)
  })
})
