import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { Cluster, Redis } from 'ioredis'
import { freePort, redisCommand, startProcess, startRedis, startRedisCluster, waitFor } from '../src/index.js'

describe('testkit', () => {
  const cleanup: Array<() => Promise<unknown>> = []
  after(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined)
  })

  it('starts redis-server on a free port and removes its directory on close', async () => {
    const r = await startRedis()
    assert.equal(await redisCommand(r.port, ['PING']), 'PONG')
    assert.match(r.url, /^redis:\/\/127\.0\.0\.1:\d+$/)
    const aof = await redisCommand(r.port, ['CONFIG', 'GET', 'appendonly'])
    assert.deepEqual(aof, ['appendonly', 'yes'])
    assert.equal(existsSync(r.dir), true)
    await r.close()
    await assert.rejects(redisCommand(r.port, ['PING'], 500))
    assert.equal(existsSync(r.dir), false)
  })

  it('keeps every write across kill -9 and restart with appendfsync always', async () => {
    const r = await startRedis({ appendfsync: 'always' })
    cleanup.push(() => r.close())
    const client = new Redis(r.url, { maxRetriesPerRequest: 0, retryStrategy: () => null })
    for (let i = 0; i < 100; i++) await client.set(`k${i}`, String(i))
    client.disconnect()
    const pid = r.pid
    await r.kill('SIGKILL')
    await r.restart()
    assert.notEqual(r.pid, pid)
    const again = new Redis(r.url)
    try {
      assert.equal(await again.dbsize(), 100)
      assert.equal(await again.get('k99'), '99')
    } finally {
      again.disconnect()
    }
  })

  it('freezes a server with stop() and thaws it with resume()', async () => {
    const r = await startRedis()
    cleanup.push(() => r.close())
    r.stop()
    await assert.rejects(redisCommand(r.port, ['PING'], 300), /did not answer/)
    r.resume()
    assert.equal(await redisCommand(r.port, ['PING']), 'PONG')
  })

  it('starts a 3-master cluster that routes by hash tag and refuses cross-slot commands', async () => {
    const c = await startRedisCluster({ masters: 3 })
    cleanup.push(() => c.close())
    assert.equal(c.nodes.length, 3)
    const cluster = new Cluster(c.nodes)
    try {
      assert.match(String(await cluster.cluster('INFO')), /cluster_state:ok/)
      await cluster.mset('{t}a', '1', '{t}b', '2')
      assert.deepEqual(await cluster.mget('{t}a', '{t}b'), ['1', '2'])
      await assert.rejects(cluster.mset('a', '1', 'b', '2'), /CROSSSLOT/)
    } finally {
      cluster.disconnect()
    }
  })

  it('starts a process, waits until it is ready, and reports how it ended', async () => {
    const port = await freePort()
    const child = await startProcess({
      command: process.execPath,
      args: ['-e', `require('http').createServer((q, s) => s.end('ok')).listen(${port}, '127.0.0.1', () => console.log('up'))`],
      readyUrl: `http://127.0.0.1:${port}/`,
    })
    assert.equal(await (await fetch(`http://127.0.0.1:${port}/`)).text(), 'ok')
    assert.match(child.output(), /up/)
    assert.equal(await child.kill('SIGKILL'), null)
    assert.equal((await child.exited).signal, 'SIGKILL')
  })

  it('rejects a process that exits before it is ready, with its output', async () => {
    await assert.rejects(
      startProcess({ command: process.execPath, args: ['-e', 'console.error("boom"); process.exit(3)'], readyUrl: 'http://127.0.0.1:1/' }),
      /exited before it was ready:[\s\S]*boom/,
    )
  })

  it('waitFor says what it waited for and the last error', async () => {
    await assert.rejects(
      waitFor(
        () => {
          throw new Error('not yet')
        },
        { timeoutMs: 100, message: 'the moon' },
      ),
      /timed out after 100 ms waiting for the moon \(last error: not yet\)/,
    )
    let n = 0
    assert.equal(await waitFor(() => ++n >= 3 && n), 3)
  })
})
