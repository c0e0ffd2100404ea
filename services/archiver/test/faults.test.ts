/**
 * The archiver as real processes under load: kill -9 at random points, and two archivers at once.
 * After each, the archive must hold every acknowledged record exactly once (no gap, no overlap).
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { freePort, startProcess, type ChildHandle } from '@sluice/testkit'
import { archiveAll, assertArchiveExact, putMany, startWorld, type World } from './helpers.js'
import { StreamCatalog, connectRedis, createRedisClient, shardKeys, type SluiceRedis } from '@sluice/store'

const serverJs = fileURLToPath(new URL('../src/server.js', import.meta.url))

async function startArchiver(world: World, id: string): Promise<ChildHandle> {
  const port = await freePort()
  return startProcess({
    command: process.execPath,
    args: [serverJs],
    env: {
      ...world.env,
      SLUICE_ARCHIVER_ID: id,
      SLUICE_ARCHIVER_METRICS_PORT: String(port),
      // Small objects (many uploads to kill in the middle of), not so small that catching up takes long.
      SLUICE_ARCHIVE_MAX_BYTES: '65536',
      SLUICE_ARCHIVE_MAX_AGE_MS: '100',
      SLUICE_ARCHIVER_LEASE_TTL_MS: '1000',
      SLUICE_ARCHIVER_INTERVAL_MS: '20',
      SLUICE_HOT_RETENTION_MS: '0',
      SLUICE_LOG_LEVEL: 'warn',
    },
    readyUrl: `http://127.0.0.1:${port}/readyz`,
  })
}

/** Puts in the background until stopped; returns every acknowledged record per shard. */
function load(world: World, stream: string) {
  let stop = false
  const acked = new Map<string, string[]>()
  const done = (async () => {
    for (let round = 0; !stop; round++) {
      const part = await putMany(world.sluice, stream, 200, { batch: 200, tag: `r${round}-` })
      for (const [shard, list] of part) acked.set(shard, [...(acked.get(shard) ?? []), ...list])
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  })()
  return {
    acked,
    async stop() {
      stop = true
      await done
      return acked
    },
  }
}

describe('archiver processes under faults', () => {
  let world: World
  let redis: SluiceRedis
  before(async () => {
    world = await startWorld()
    redis = createRedisClient({ url: world.redis.url, commandTimeoutMs: 3000, connectionName: 'test' })
    await connectRedis(redis)
  })
  after(async () => {
    redis?.disconnect()
    await world?.close()
  })

  it('kill -9 at random points five times under load, restarted each time: every record archived exactly once', async () => {
    assert.equal((await world.sluice.request('POST', '/v1/streams', { name: 'k9', shardCount: 4, writeLimits: { recordsPerSecond: 100_000 } })).status, 201)
    const writer = load(world, 'k9')
    let archiver = await startArchiver(world, 'a')
    try {
      for (let kill = 0; kill < 5; kill++) {
        await new Promise((resolve) => setTimeout(resolve, 200 + Math.random() * 800))
        await archiver.kill('SIGKILL')
        archiver = await startArchiver(world, `a${kill}`)
      }
      const acked = await writer.stop()
      // The restarted archiver takes the leases once the killed one's lapse, and catches up.
      await archiveAll(null, redis, 'k9', 60_000).catch((err: Error) => {
        throw new Error(`${err.message}\n--- archiver output ---\n${archiver.output().slice(-3000)}`)
      })
      const objects = await assertArchiveExact(world, 'k9', acked)
      assert.ok(objects > 20, `${objects} objects`)
    } finally {
      await writer.stop()
      await archiver.kill('SIGKILL')
    }
  })

  it('two archivers at once: each shard is archived by one at a time, never into two different objects', async () => {
    assert.equal((await world.sluice.request('POST', '/v1/streams', { name: 'two', shardCount: 4, writeLimits: { recordsPerSecond: 100_000 } })).status, 201)
    const writer = load(world, 'two')
    const a = await startArchiver(world, 'one')
    const b = await startArchiver(world, 'other')
    try {
      await new Promise((resolve) => setTimeout(resolve, 2000))
      // One stalls past its lease (SIGSTOP) and wakes: the other has taken over; the stale one
      // cannot move the cursor, and what it uploads is the same object under the same key.
      a.stop()
      await new Promise((resolve) => setTimeout(resolve, 1500))
      a.resume()
      await new Promise((resolve) => setTimeout(resolve, 1000))
      const acked = await writer.stop()
      await archiveAll(null, redis, 'two', 60_000)
      await assertArchiveExact(world, 'two', acked)
      // The freeze made leases change hands: the takeover path was exercised, not just one archiver.
      const stream = (await new StreamCatalog(redis).get('two'))!
      const tokens = await Promise.all(Array.from({ length: 4 }, (_, i) => redis.hget(shardKeys('two', stream.generation, i).archive, 'tokens')))
      assert.ok(tokens.some((t) => Number(t) >= 2), `lease tokens per shard: ${tokens.join(', ')}`)
    } finally {
      await writer.stop()
      a.resume()
      await Promise.all([a.kill('SIGKILL'), b.kill('SIGKILL')])
    }
  })
})
