/**
 * Consumer groups under crashes, with real processes: redis-server, the ingest service, and consumer
 * processes that are killed (-9) and frozen (SIGSTOP). Checked from the outside, from what each
 * process wrote before it died.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort, startProcess, startRedis, waitFor, type ChildHandle, type RedisServer } from '@sluice/testkit'
import { request } from '@sluice/ingest/testing'
import { Producer } from '../src/index.js'

const workerJs = fileURLToPath(new URL('./fixtures/worker.js', import.meta.url))
const serverJs = fileURLToPath(new URL('../../../ingest/dist/src/server.js', import.meta.url))

interface Log {
  file: string
  handle: ChildHandle
  killed: boolean
}

function readLog(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []
}

describe('consumer groups under crashes (real processes)', () => {
  let redis: RedisServer
  let ingest: ChildHandle
  let base: string
  let dir: string
  before(async () => {
    redis = await startRedis()
    dir = mkdtempSync(join(tmpdir(), 'sluice-crash-'))
    const port = await freePort()
    base = `http://127.0.0.1:${port}`
    ingest = await startProcess({
      command: process.execPath,
      args: [serverJs],
      env: { SLUICE_REDIS_URL: redis.url, SLUICE_PORT: String(port), SLUICE_DATA_DIR: dir, SLUICE_LOG_LEVEL: 'warn', SLUICE_SHARD_READS_PER_SECOND: '100' },
      readyUrl: `${base}/readyz`,
    })
  })
  after(async () => {
    await ingest.kill('SIGKILL')
    await redis.close()
    if (!process.env.SLUICE_KEEP_TEST_LOGS) rmSync(dir, { recursive: true, force: true })
    else process.stderr.write(`logs kept in ${dir}\n`)
  })

  const startWorker = async (stream: string, id: string, ttl: number): Promise<Log> => {
    const file = join(dir, `${id}.log`)
    const handle = await startProcess({ command: process.execPath, args: [workerJs, base, stream, 'g', id, String(ttl), file] })
    await waitFor(() => readLog(file).includes('START'), { timeoutMs: 10_000, message: `${id} started` })
    return { file, handle, killed: false }
  }

  it('at-least-once: 100,000 records on 8 shards, 4 consumers, ten kill -9s — every record processed, in order, redelivered only past a checkpoint', async () => {
    assert.equal((await request(base, 'POST', '/v1/streams', { name: 'alo', shardCount: 8, writeLimits: { recordsPerSecond: 1_000_000, bytesPerSecond: 1_000_000_000 } })).status, 201)
    const ttl = 1500
    const logs: Log[] = []
    let next = 0
    for (let i = 0; i < 4; i++) logs.push(await startWorker('alo', `w${next++}`, ttl))
    // Records keep arriving while consumers are killed, so kills land in the middle of batches.
    const producer = new Producer({ endpoint: base, stream: 'alo', maxBufferedRecords: 5_000, maxBatchRecords: 200 })
    const acked = new Set<string>()
    const producing = (async () => {
      for (let chunk = 0; chunk < 100; chunk++) {
        await Promise.all(
          Array.from({ length: 1000 }, (_, j) => {
            const i = chunk * 1000 + j
            return producer.put(`key-${i % 1009}`, String(i)).then((r) => void acked.add(`${r.shardId} ${r.sequenceNumber}`))
          }),
        )
      }
      await producer.close()
    })()
    const delivered = () => {
      const seen = new Set<string>()
      for (const l of logs) for (const line of readLog(l.file)) if (line.startsWith('D ')) seen.add(line.slice(2))
      return seen
    }
    // Ten kill -9s while they run, each replaced by a new process (a new worker id: failover by TTL).
    for (let k = 0; k < 10; k++) {
      await waitFor(() => delivered().size >= (k + 1) * 7_000, { timeoutMs: 60_000, intervalMs: 100, message: `progress before kill ${k + 1}` })
      const live = logs.filter((l) => !l.killed)
      const victim = live[Math.floor(Math.random() * live.length)]!
      victim.killed = true
      await victim.handle.kill('SIGKILL')
      logs.push(await startWorker('alo', `w${next++}`, ttl))
    }
    await producing
    assert.equal(acked.size, 100_000)
    await waitFor(() => delivered().size >= 100_000, { timeoutMs: 60_000, message: 'every record delivered at least once' })
    for (const l of logs.filter((x) => !x.killed)) await l.handle.kill('SIGTERM')

    const seen = delivered()
    for (const a of acked) assert.ok(seen.has(a), `record ${a} was never processed`)
    // Per process and lease, a shard's records come in order.
    const count = new Map<string, number>()
    const leaseMark = new Map<string, string>() // process|shard|lease -> last checkpoint in that lease
    const deliveredBy = new Map<string, string[]>() // record -> the process|shard|lease of each delivery
    logs.forEach((l, p) => {
      const position = new Map<string, string>()
      const lease = new Map<string, number>()
      for (const line of readLog(l.file)) {
        const [kind, shard, seq] = line.split(' ') as [string, string, string | undefined]
        if (kind === 'A') {
          position.delete(shard)
          lease.set(shard, (lease.get(shard) ?? 0) + 1)
        }
        const id = `${p}|${shard}|${lease.get(shard) ?? 0}`
        if (kind === 'C') leaseMark.set(id, seq!)
        if (kind !== 'D') continue
        const prev = position.get(shard)
        assert.ok(prev === undefined || seq! > prev, `process ${p}: ${shard} went from ${prev} to ${seq} within one lease`)
        position.set(shard, seq!)
        const key = `${shard} ${seq}`
        count.set(key, (count.get(key) ?? 0) + 1)
        deliveredBy.set(key, [...(deliveredBy.get(key) ?? []), id])
      }
    })
    // Each redelivery needs an earlier lease that ended (crash, hand-over) without checkpointing past
    // the record: of a record's n deliveries, at least n - 1 are under such leases. (The logs hold no
    // clock, so which delivery came first is not known; this rule does not need it.)
    let redelivered = 0
    for (const [key, n] of count) {
      if (n < 2) continue
      redelivered += n - 1
      const seq = key.split(' ')[1]!
      const leases = deliveredBy.get(key)!
      const uncheckpointed = leases.filter((lease) => {
        const mark = leaseMark.get(lease)
        return mark === undefined || mark < seq
      }).length
      assert.ok(uncheckpointed >= n - 1, `${key} was delivered ${n} times, by ${leases.join(', ')}, but only ${uncheckpointed} of those leases ended before checkpointing it`)
    }
    assert.ok(redelivered < 100_000, `${redelivered} redeliveries`)
    process.stderr.write(`  at-least-once: 100000 records, 10 kills, ${redelivered} redelivered\n`)
  })

  it('fencing: a consumer frozen past its TTL cannot checkpoint when it wakes, stops the shard, and no checkpoint goes backwards', async () => {
    assert.equal((await request(base, 'POST', '/v1/streams', { name: 'fence', shardCount: 2, writeLimits: { recordsPerSecond: 1_000_000 } })).status, 201)
    const producer = new Producer({ endpoint: base, stream: 'fence' })
    await Promise.all(Array.from({ length: 5000 }, (_, i) => producer.put(`k${i}`, String(i))))
    await producer.close()
    const ttl = 1000
    const x = await startWorker('fence', 'x', ttl)
    await waitFor(() => readLog(x.file).filter((l) => l.startsWith('C ')).length >= 2, { timeoutMs: 10_000, message: 'x checkpointed' })
    // Keep producing so there is always a batch in flight.
    const more = new Producer({ endpoint: base, stream: 'fence' })
    let producing = true
    const feed = (async () => {
      let i = 0
      while (producing) await more.put(`m${i++}`, 'x')
    })()
    const marks = new Map<string, string>()
    const watchCheckpoints = async () => {
      const d = (await request(base, 'GET', '/v1/streams/fence/groups/g')).body
      for (const sh of d.shards) {
        const prev = marks.get(sh.shardId)
        if (sh.checkpoint !== null) {
          assert.ok(prev === undefined || sh.checkpoint >= prev, `${sh.shardId} checkpoint moved backwards`)
          marks.set(sh.shardId, sh.checkpoint)
        }
      }
      return d
    }
    x.handle.stop()
    const frozenAt = Date.now()
    const y = await startWorker('fence', 'y', ttl)
    await waitFor(async () => (await watchCheckpoints()).shards.every((s: any) => s.owner === 'y'), { timeoutMs: 2 * ttl + 3000, message: 'y owns both shards' })
    const failover = Date.now() - frozenAt
    x.handle.resume()
    await waitFor(() => readLog(x.file).filter((l) => l.startsWith('L ')).length === 2, { timeoutMs: 10_000, message: 'x learns it lost both leases' })
    for (let i = 0; i < 5; i++) await watchCheckpoints()
    producing = false
    await feed
    await more.close()
    // After its L line, x delivered nothing more of that shard (unless it acquired it again).
    const after = new Set<string>()
    for (const line of readLog(x.file)) {
      const [kind, shard] = line.split(' ') as [string, string]
      if (kind === 'L') after.add(shard)
      if (kind === 'A') after.delete(shard)
      if (kind === 'D') assert.ok(!after.has(shard), `x processed ${shard} after losing it`)
    }
    await x.handle.kill('SIGKILL')
    await y.handle.kill('SIGTERM')
    process.stderr.write(`  fencing: failover after freeze took ${failover} ms (TTL ${ttl} ms)\n`)
    assert.ok(failover <= 2 * ttl + 1500, `failover took ${failover} ms`)
  })
})
